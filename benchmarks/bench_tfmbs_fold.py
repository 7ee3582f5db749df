"""What the fold (tfmbs option `fold`) does to the random ResNet-50.

    python3 benchmarks/bench_tfmbs_fold.py [--runs 10] [--workdir DIR]

Compiles the 25.6 M-parameter random ResNet-50 (`benchmarks/models.py`) for `tfmbs` with
`fold=true` (BatchNormalization, residual Add and Relu in the fabric layers' epilogue) and
`fold=false` (they run as host segments), prints the segment counts and compile times, and
the run time of both artifacts next to onnxruntime on the float model, interleaved in one
loop (median of every call), with the load average. It also prints how far the two
artifacts' outputs are apart (the fold rounds the BatchNormalization into the float32
scales and bias once instead of applying it to every output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

PAUSE_S = 0.2


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import onnxruntime as ort

    import tsuc
    from models import random_resnet50

    model = random_resnet50(os.path.join(args.workdir, "resnet50_random.onnx"))
    exes = {}
    for fold in (True, False):
        t0 = time.perf_counter()
        path = os.path.join(args.workdir, f"r50_tfmbs_fold{int(fold)}.tsuc")
        tsuc.compile(model, target="tfmbs", output=path, options={"fold": fold})
        t_compile = time.perf_counter() - t0
        exe = tsuc.load(path)
        kinds = [s["target"] for s in exe.manifest["segments"]]
        print(f"fold={str(fold).lower()}: {kinds.count('tfmbs')} tfmbs segments, {kinds.count('host')} host segments, "
              f"compile {t_compile:.2f} s (in process)")
        exes[fold] = exe
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    y = {fold: exe.run({name: x}) for fold, exe in exes.items()}  # first runs: load-time work done
    a, b = (next(iter(y[f].values())) for f in (True, False))
    print(f"outputs fold=true vs fold=false: max |diff| {np.abs(a - b).max():.3g}, max |y| {np.abs(b).max():.3g}")
    calls = {"onnxruntime float": lambda: sess.run(None, {name: x}),
             "tfmbs fold=true": lambda: exes[True].run({name: x}),
             "tfmbs fold=false": lambda: exes[False].run({name: x})}
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(3):
        for label, fn in calls.items():
            time.sleep(PAUSE_S)
            for _ in range(args.runs):
                t0 = time.perf_counter()
                fn()
                times[label].append(time.perf_counter() - t0)
    anchor = statistics.median(times["onnxruntime float"]) * 1e3
    for label, ts in times.items():
        m = statistics.median(ts) * 1e3
        print(f"  {label:18s} median {m:7.1f} ms over {len(ts)} calls ({m / anchor:.2f}x onnxruntime float)")
    print(f"  {_load()}")


if __name__ == "__main__":
    main()

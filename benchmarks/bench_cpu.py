"""Benchmark: the cpu target on a 25.6 M-parameter ResNet-50, next to onnxruntime.

Prints the compile time of `tsuc compile --target=cpu` (the CLI, as a user runs it), whether
two compiles give byte-identical artifacts, and the run time of the artifact against
onnxruntime running the original file, both measured here in the same process, interleaved,
median of N runs.

    python3 benchmarks/bench_cpu.py [--runs 30] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def iree_compile_time(model: str, workdir: str) -> float | None:
    """IREE's import + compile of the same model, when IREE is installed.

    IREE's ONNX importer wants a recent opset, so the model is first brought to opset 17 with
    onnx's version converter (not timed); then `iree-import-onnx` and `iree-compile` are timed.
    """
    import shutil

    if not (shutil.which("iree-import-onnx") and shutil.which("iree-compile")):
        return None
    import onnx
    import onnx.version_converter

    converted = os.path.join(workdir, "resnet50_random_op17.onnx")
    if not os.path.exists(converted):
        onnx.save(onnx.version_converter.convert_version(onnx.load(model), 17), converted)
    mlir, vmfb = os.path.join(workdir, "r50.mlir"), os.path.join(workdir, "r50.vmfb")
    t0 = time.perf_counter()
    subprocess.run(["iree-import-onnx", converted, "-o", mlir], check=True, capture_output=True)
    subprocess.run(["iree-compile", mlir, "--iree-hal-target-backends=llvm-cpu", "--iree-llvmcpu-target-cpu=host", "-o", vmfb],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    import onnxruntime as ort

    import tsuc
    from models import parameter_count, random_resnet50

    model = random_resnet50(os.path.join(args.workdir, "resnet50_random.onnx"))
    print(f"model: {model} ({parameter_count(model) / 1e6:.1f} M parameters)")

    times = []
    arts = [os.path.join(args.workdir, f"r50_{k}.tsuc") for k in range(2)]
    for art in arts:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "compile", model, "--target=cpu", "-o", art], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
    with open(arts[0], "rb") as a, open(arts[1], "rb") as b:
        identical = a.read() == b.read()
    t0 = time.perf_counter()
    tsuc.compile(model, target="cpu", output=arts[0])
    in_process = time.perf_counter() - t0
    print(f"compile (tsuc compile --target=cpu, CLI incl. interpreter start): {min(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"compile (tsuc.compile in process): {in_process:.2f} s")
    print(f"artifacts byte-identical across two compiles: {identical}")
    iree = iree_compile_time(model, args.workdir)
    if iree is not None:
        print(f"anchor, IREE (iree-import-onnx + iree-compile --iree-hal-target-backends=llvm-cpu) on the same model: {iree:.2f} s")
    else:
        print("anchor, IREE: not measured (iree-import-onnx / iree-compile not on PATH; pip install iree-base-compiler)")

    exe = tsuc.load(arts[0])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    feed_name = sess.get_inputs()[0].name
    ref = sess.run(None, {feed_name: x})[0]
    ours = exe.run({feed_name: x})[exe.outputs[0].name]
    print(f"max |tsuc - onnxruntime| on the output: {float(np.abs(ours - ref).max()):.3g}")
    for _ in range(3):  # warm up both
        sess.run(None, {feed_name: x})
        exe.run({feed_name: x})
    t_ort, t_tsuc = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        sess.run(None, {feed_name: x})
        t_ort.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exe.run({feed_name: x})
        t_tsuc.append(time.perf_counter() - t0)
    m_ort, m_tsuc = statistics.median(t_ort) * 1e3, statistics.median(t_tsuc) * 1e3
    print(f"run, median of {args.runs}: onnxruntime on the original {m_ort:.1f} ms, tsuc artifact {m_tsuc:.1f} ms, "
          f"ratio {m_tsuc / m_ort:.3f}x")


if __name__ == "__main__":
    main()

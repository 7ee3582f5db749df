"""Benchmark: the xla target on a 25.6 M-parameter ResNet-50 (random weights), with its anchors.

Measured in one run, on this machine, with the load average printed:
  - compile: `tsuc compile --target=xla` through the CLI (interpreter start included);
  - load + first run: `tsuc.load` (XLA compiles the HLO here) and one `run`;
  - steady run, median of N, interleaved block by block with
      * XLA's own best: a hand-written JAX ResNet-50 (same architecture, batch-norm folded into
        a per-channel scale and shift as tsuc does, NCHW as the ONNX file), `jax.jit`-compiled;
      * onnxruntime on the original ONNX file;
  - max |tsuc - onnxruntime| on the logits.

    PYTHONPATH=... flock /tmp/tsuc-cpu.lock python benchmarks/bench_xla.py [--runs 20] [--workdir DIR]
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

STAGES = [(64, 256, 3, 1), (128, 512, 4, 2), (256, 1024, 6, 2), (512, 2048, 3, 2)]  # width, out, blocks, stride


def jax_resnet50(seed: int = 0):
    """A hand-written ResNet-50 v1 in JAX (NCHW/OIHW), inference form; returns (jitted fn, params)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    rng = np.random.default_rng(seed)

    def conv_p(cin, cout, k):
        w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        return {"w": w, "s": (np.abs(rng.standard_normal(cout)) + 0.5).astype(np.float32),
                "b": rng.standard_normal(cout).astype(np.float32) * 0.1}

    params = {"stem": conv_p(3, 64, 7), "blocks": []}
    cin = 64
    for width, cout, blocks, stride in STAGES:
        for i in range(blocks):
            blk = {"c1": conv_p(cin, width, 1), "c2": conv_p(width, width, 3), "c3": conv_p(width, cout, 1)}
            if i == 0:
                blk["proj"] = conv_p(cin, cout, 1)
            params["blocks"].append(blk)
            cin = cout
    params["fc_w"] = (rng.standard_normal((2048, 1000)) / np.sqrt(2048)).astype(np.float32)
    params["fc_b"] = np.zeros(1000, np.float32)

    def conv(x, p, stride, pad):
        y = lax.conv_general_dilated(x, p["w"], (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y * p["s"][None, :, None, None] + p["b"][None, :, None, None]

    strides = [s if i == 0 else 1 for _w, _o, n, s in STAGES for i in range(n)]

    def forward(params, x):
        y = jax.nn.relu(conv(x, params["stem"], 2, 3))
        y = lax.reduce_window(y, -jnp.inf, lax.max, (1, 1, 3, 3), (1, 1, 2, 2), [(0, 0), (0, 0), (1, 1), (1, 1)])
        for blk, s in zip(params["blocks"], strides):
            h = jax.nn.relu(conv(y, blk["c1"], 1, 0))
            h = jax.nn.relu(conv(h, blk["c2"], s, 1))
            h = conv(h, blk["c3"], 1, 0)
            short = conv(y, blk["proj"], s, 0) if "proj" in blk else y
            y = jax.nn.relu(h + short)
        y = jnp.mean(y, axis=(2, 3))
        return y @ params["fc_w"] + params["fc_b"]

    params = jax.tree_util.tree_map(jnp.asarray, params)
    return jax.jit(forward), params


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench-xla"))
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    import onnxruntime as ort
    import tsuc
    from models import parameter_count, random_resnet50

    print(f"load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    model = random_resnet50(os.path.join(args.workdir, "resnet50_random.onnx"))
    print(f"model: {model} ({parameter_count(model) / 1e6:.1f} M parameters)")

    art = os.path.join(args.workdir, "r50_xla.tsuc")
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "compile", model, "--target=xla", "-o", art], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"compile (tsuc compile --target=xla, CLI incl. interpreter start): {min(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)})")

    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    t0 = time.perf_counter()
    exe = tsuc.load(art)
    t_load = time.perf_counter() - t0
    name = exe.inputs[0].name
    ours = exe.run({name: x})[exe.outputs[0].name]
    t_first = time.perf_counter() - t0
    print(f"load + first run: {t_first:.2f} s (load incl. XLA compile {t_load:.2f} s)")
    stats = exe.manifest["op_stats"]
    print(f"ops on xla: {stats['by_target'].get('xla', 0)} of {stats['total']}")

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {name: x})[0]
    print(f"max |tsuc - onnxruntime| on the output (softmax): {float(np.abs(ours - ref).max()):.3g} "
          f"(max |output| {float(np.abs(ref).max()):.3g})")

    import jax

    fn, params = jax_resnet50()
    xj = jax.numpy.asarray(x)
    t0 = time.perf_counter()
    fn(params, xj).block_until_ready()
    print(f"anchor, hand-written JAX ResNet-50: jit compile + first run {time.perf_counter() - t0:.2f} s")

    runners = {
        "tsuc xla artifact": lambda: exe.run({name: x}),
        "hand-written JAX (jit)": lambda: fn(params, xj).block_until_ready(),
        "onnxruntime (original file)": lambda: sess.run(None, {name: x}),
    }
    for run in runners.values():
        for _ in range(3):
            run()
    samples: dict[str, list[float]] = {k: [] for k in runners}
    block = 5
    for _ in range(max(1, args.runs // block)):
        for key, run in runners.items():
            for _ in range(block):
                t0 = time.perf_counter()
                run()
                samples[key].append(time.perf_counter() - t0)
    med = {k: median_ms(v) for k, v in samples.items()}
    n = len(samples["tsuc xla artifact"])
    for key in runners:
        print(f"steady run, median of {n}: {key} {med[key]:.1f} ms")
    print(f"ratio tsuc / hand-written JAX: {med['tsuc xla artifact'] / med['hand-written JAX (jit)']:.3f}x; "
          f"tsuc / onnxruntime: {med['tsuc xla artifact'] / med['onnxruntime (original file)']:.3f}x")
    prof = exe.profile()["segments"][0]
    print(f"systolic model ({prof['array']}, {exe.manifest['segments'][0]['config']['systolic']['clock_mhz']} MHz): "
          f"{prof['cycles']} cycles = {prof['sim_time_ms']:.2f} ms, {prof['macs'] / 1e9:.2f} GMAC, "
          f"GEMM utilisation {prof['utilisation']:.3f}, {prof['energy_j'] * 1e3:.2f} mJ")
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

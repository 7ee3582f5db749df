"""Benchmark: compile time of `tsuc compile --target=tfmbs`, and how it grows with model size.

    python3 benchmarks/bench_compile.py [--runs 3] [--widths 0.5,1,2] [--depths 1,2,4] [--workdir DIR] [--iree]

(a) The 25.6 M-parameter random-weight ResNet-50 (`benchmarks/models.py`, opset 9, so the
    version converter runs): `tsuc compile model.onnx --target=tfmbs -o x.tsuc` as a
    subprocess, interpreter start included, median of `--runs`; the anchor is onnxruntime
    creating an InferenceSession on the same file with all graph optimisations
    (ORT_ENABLE_ALL), median of `--runs`, measured in the same run (`--iree` adds IREE's
    import + compile, which takes minutes).
(b) Width family: a ResNet-50-shaped network (bottleneck blocks 3,4,6,3; opset 9, random
    weights) with every channel count multiplied by each of `--widths`. Relative to the first
    width the others are 2x and 4x wider; weights grow with the square of the width (4x,
    16x), the op count stays the same. Printed: weights, ops, CLI compile time, in-process
    compile time, seconds per million weights and milliseconds per op.
    (ResNet-50 at 4x width, 410 M weights, would need ~10 GB while compiling; with the default
    widths 1x is half of ResNet-50's width, 2x is ResNet-50's, 4x twice it.)
(c) Depth family: the same network at width `--depth-width`, with `--depths` times as many
    bottleneck blocks per stage: ops and weights grow together, linearly. Printed: seconds
    per op and per million weights.

Each CLI compile is timed by the wall clock and by the CPU time of the `tsuc` process (user +
system, from getrusage), the steadier of the two on a shared machine. The per-size figures
(s / M weights, ms / op) use the CPU time of `compile_model` in this process, where the
interpreter start and the imports (about 1 s of CPU, the one-op model's figure) are not
counted.

Compile time is linear in model size when the per-weight (b) and per-op (c) figures stay
flat (or fall) as the model grows. Every figure comes with the load average.
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
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 9  # the opset of the ResNet-50 the onnx package ships: the version converter runs, as for real models


def resnet_like(width: float, depth: int = 1, seed: int = 0) -> onnx.ModelProto:
    """ResNet-50's graph (conv + batch-norm + relu bottlenecks, 3,4,6,3 blocks, 1000 classes)
    with every channel count scaled by `width` and `depth` times the blocks per stage."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def weight(shape: list[int]) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        values = (rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(max(fan_in, 1))))
        if len(shape) == 1:
            values = np.abs(values) + np.float32(0.5)  # batch-norm variances stay positive
        n = name("w")
        inits.append(numpy_helper.from_array(values.astype(np.float32), n))
        return n

    def conv_bn(x: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, weight([cout, cin, k, k])], [y], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4, name=y))
        z = name("bn")
        nodes.append(helper.make_node("BatchNormalization", [y] + [weight([cout]) for _ in range(4)], [z], epsilon=1e-5, name=z))
        if not relu:
            return z
        r = name("relu")
        nodes.append(helper.make_node("Relu", [z], [r], name=r))
        return r

    def ch(c: int) -> int:
        return max(int(round(c * width)), 1)

    x = conv_bn("input", 3, ch(64), 7, 2, True)
    pooled = name("pool")
    nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name=pooled))
    x, cin = pooled, ch(64)
    for stage, (blocks, mid) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for b in range(blocks * depth):
            stride = 2 if b == 0 and stage > 0 else 1
            cout = ch(mid * 4)
            y = conv_bn(x, cin, ch(mid), 1, 1, True)
            y = conv_bn(y, ch(mid), ch(mid), 3, stride, True)
            y = conv_bn(y, ch(mid), cout, 1, 1, False)
            short = conv_bn(x, cin, cout, 1, stride, False) if b == 0 else x
            s, r = name("sum"), name("relu")
            nodes.append(helper.make_node("Sum", [y, short], [s], name=s))
            nodes.append(helper.make_node("Relu", [s], [r], name=r))
            x, cin = r, cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat"))
    nodes.append(helper.make_node("Gemm", ["flat", weight([1000, cin]), weight([1000])], ["logits"], transB=1, name="fc"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], name="softmax"))
    graph = helper.make_graph(nodes, f"resnet_like_w{width}_d{depth}",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1000])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    return model


def weights_and_ops(path: str) -> tuple[int, int]:
    m = onnx.load(path, load_external_data=False)
    return sum(int(np.prod(t.dims)) for t in m.graph.initializer), len(m.graph.node)


def cli_compile(model: str, out: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (user + system, of the child) of each `tsuc compile` run.
    CPU time is the steadier measure on a shared machine: other jobs stretch the wall clock."""
    import resource

    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "compile", model, "--target=tfmbs", "-o", out], check=True,
                       capture_output=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def ort_session_time(model: str, runs: int) -> float:
    import onnxruntime as ort

    times = []
    for _ in range(runs):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def in_process(model: str, out: str, runs: int) -> float:
    """Median CPU seconds of `compile_model` in this process (imports done, start-up excluded),
    the garbage of earlier compiles collected first."""
    import gc

    from tsuc.compiler.driver import compile_model

    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.process_time()
        compile_model(model, target="tfmbs", output=out)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def family(title: str, specs: list[tuple[str, float, int]], workdir: str, runs: int) -> None:
    print(f"\n{title}")
    print(f"  {'model':<13}{'weights':>9}{'ops':>6}{'CLI wall s':>11}{'CLI cpu s':>10}{'in-process cpu s':>17}{'s / M weights':>15}"
          f"{'ms / op':>9}{'ort session s':>15}   load")
    rows = []
    for label, width, depth in specs:
        path = os.path.join(workdir, f"resnet_like_w{width}_d{depth}.onnx")
        if not os.path.exists(path):
            onnx.save(resnet_like(width, depth), path)
        n_weights, n_ops = weights_and_ops(path)
        out = os.path.join(workdir, "family.tsuc")
        walls, cpus = cli_compile(path, out, runs)
        inner = in_process(path, out, runs)
        anchor = ort_session_time(path, runs)
        rows.append((n_weights, n_ops, inner))
        print(f"  {label:<13}{n_weights / 1e6:>8.1f}M{n_ops:>6}{statistics.median(walls):>11.2f}{statistics.median(cpus):>10.2f}"
              f"{inner:>17.2f}{inner / (n_weights / 1e6):>15.3f}{1e3 * inner / n_ops:>9.2f}{anchor:>15.2f}   {load()}", flush=True)
    (w0, o0, t0), (w1, o1, t1) = rows[0], rows[-1]
    print(f"  largest / smallest: weights x{w1 / w0:.1f}, ops x{o1 / o0:.1f}, in-process compile CPU time x{t1 / t0:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--widths", default="0.5,1,2", help="channel multipliers of the width family (first = 1x)")
    parser.add_argument("--depths", default="1,2,4", help="block multipliers of the depth family")
    parser.add_argument("--depth-width", type=float, default=0.5, help="channel multiplier of the depth family")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench"))
    parser.add_argument("--iree", action="store_true", help="also time IREE's import + compile of ResNet-50 (minutes)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    from models import random_resnet50

    print(f"python {sys.version.split()[0]}, onnx {onnx.__version__}, {os.cpu_count()} cpus; {load()}")
    tiny = os.path.join(args.workdir, "one_relu.onnx")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), tiny)
    walls, cpus = cli_compile(tiny, os.path.join(args.workdir, "tiny.tsuc"), args.runs)
    startup = statistics.median(cpus)
    print(f"start-up: `tsuc compile` of a one-op model (interpreter, imports, write, load): {statistics.median(walls):.2f} s wall, "
          f"{startup:.2f} s CPU, median of {args.runs}; {load()}")

    model = random_resnet50(os.path.join(args.workdir, "resnet50_random.onnx"))
    n_weights, n_ops = weights_and_ops(model)
    out = os.path.join(args.workdir, "r50_tfmbs.tsuc")
    times, cpus = cli_compile(model, out, args.runs)
    print(f"\n(a) ResNet-50, {n_weights / 1e6:.1f} M random weights, {n_ops} ops, opset 9:")
    print(f"  tsuc compile {os.path.basename(model)} --target=tfmbs -o x.tsuc (CLI, interpreter start included): "
          f"{statistics.median(times):.2f} s median of {args.runs} (runs: {', '.join(f'{t:.2f}' for t in times)}; "
          f"CPU {statistics.median(cpus):.2f} s); {load()}")
    anchor = ort_session_time(model, args.runs)
    print(f"  anchor, onnxruntime InferenceSession creation (ORT_ENABLE_ALL, in process): {anchor:.2f} s median of {args.runs}; {load()}")
    if args.iree:
        from bench_cpu import iree_compile_time

        iree = iree_compile_time(model, args.workdir)
        print(f"  anchor, IREE import + compile (llvm-cpu): {iree:.2f} s; {load()}" if iree is not None
              else "  anchor, IREE: not measured (iree-import-onnx / iree-compile not on PATH)")

    widths = [float(w) for w in args.widths.split(",")]
    family(f"(b) width family: ResNet-50 graph, channels x{', x'.join(f'{w:g}' for w in widths)} "
           f"(relative widths {', '.join(f'{w / widths[0]:g}x' for w in widths)})",
           [(f"width x{w:g}", w, 1) for w in widths], args.workdir, args.runs)
    depths = [int(d) for d in args.depths.split(",")]
    family(f"(c) depth family: ResNet-50 graph at channels x{args.depth_width:g}, blocks per stage x{', x'.join(map(str, depths))}",
           [(f"depth x{d}", args.depth_width, d) for d in depths], args.workdir, args.runs)


if __name__ == "__main__":
    main()

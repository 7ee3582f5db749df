"""Benchmark and hand-checkable figures of the tfmbs target.

    python3 benchmarks/bench_tfmbs.py [--runs 10] [--rounds 3] [--workdir DIR] [--skip-resnet] [--skip-accuracy]

(a) One Gemm, K=2048, N=120, batch 1, act_trits=1, w_planes=1: the frame count, cycles and
    utilisation from the simulator, next to the same numbers worked out by hand from the
    machine's parameters (printed as arithmetic).
(b) The 25.6 M-parameter random-weight ResNet-50 (`benchmarks/models.py`): compile time
    (`tsuc compile --target=tfmbs` on the CLI, and the stages in process), run time of the
    artifact against onnxruntime on the float model (interleaved, median), and the time the
    full cycle-accurate profile takes (every counter of every layer).
(c) Weight storage in the artifact: bits per weight of the PT-5 streams, and with the
    per-layer metadata (scales, bias, TFD programs) added.
(d) Accuracy against float onnxruntime on the same input, for a few option sets: the
    weights' quantisation error, each fabric layer against the float64 layer with its
    dequantised weights on the same input (what the arithmetic itself adds), the error of
    every fabric layer's output against float as it grows with depth, the logits and the
    softmax (compiled with every intermediate exposed, as `tsuc verify --all-layers` does).
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


def gemm_model(k: int, n: int) -> onnx.ModelProto:
    w = np.random.default_rng(0).standard_normal((n, k)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="gemm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def figure_a(workdir: str) -> None:
    import tsuc
    from tsuc.runtime.tfmbs.machine import FabricConfig

    k, n = 2048, 120
    print(f"(a) Gemm K={k}, N={n}, batch 1, act_trits=1, w_planes=1 (default machine)")
    exe = tsuc.compile(gemm_model(k, n), target="tfmbs", output=os.path.join(workdir, "gemm.tsuc"),
                       options={"act_trits": 1, "w_planes": 1})
    x = np.random.default_rng(1).standard_normal((1, k)).astype(np.float32)
    exe.run({"x": x})
    p = next(s for s in exe.profile()["segments"] if s["kind"] == "tfmbs")
    layer = p["layers"][0]
    cfg = FabricConfig()
    groups, chunks = -(-n // cfg.outputs_per_frame), -(-k // cfg.bank_words)
    frames = 1 * 1 * groups * 1 * chunks
    compute = frames * cfg.bank_words
    words = cfg.bank_words
    tiles = [min(cfg.tiles, -(-(n - g * 60) // cfg.lanes)) for g in range(groups)]
    w_bursts = sum(tiles) * chunks  # frame mode: each frame loads its block into every tile of its group
    x_bursts = frames  # K > bank: each frame loads its own input chunk (broadcast)
    dma = (w_bursts + x_bursts) * (cfg.dma_latency + words // cfg.dma_words_per_cycle)
    cycles = compute + dma
    active = frames * words * cfg.lanes * cfg.tiles
    print(f"  by hand: groups = ceil({n}/60) = {groups}, chunks = ceil({k}/{cfg.bank_words}) = {chunks}, "
          f"frames = 1 row x 1 trit x {groups} x 1 plane x {chunks} = {frames}")
    print(f"           compute = {frames} frames x {words} words = {compute} cycles")
    print(f"           Bank A needs {k} x {groups} = {k * groups} words per tile > {cfg.bank_words}: streamed, one block per frame")
    print(f"           DMA = ({w_bursts} weight bursts + {x_bursts} input bursts) x ({cfg.dma_latency} + {words}) = {dma} cycles")
    print(f"           cycles = {compute} + {dma} = {cycles}; utilisation = {frames} x {words} x 60 lanes / ({cycles} x 60) "
          f"= {active / (cycles * 60):.4f} (compute only: {compute} / {compute} = 1.0)")
    print(f"  simulator: mode={layer['mode']} frames={p['frames']} cycles={p['cycles']} compute_cycles={p['compute_cycles']} "
          f"burst_wait_cycles={p['burst_wait_cycles']} utilization={p['utilization']:.4f} "
          f"fabric time {p['fabric_ms'] * 1e3:.1f} us, energy {p['energy_j'] * 1e9:.2f} nJ")
    print(f"  agree: {p['frames'] == frames and p['cycles'] == cycles and p['compute_cycles'] == compute}")


PAUSE_S = 0.2  # between timed blocks: onnxruntime's own session keeps a worker spinning ~50 ms after a run
ROUNDS = 3


def interleaved(anchor, ours, runs: int) -> tuple[list[float], list[float]]:
    """Seconds per call of `anchor()` and `ours()`: ROUNDS alternating blocks of `runs`
    back-to-back calls, each block after the other side has gone idle (PAUSE_S)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROUNDS):
        for fn, out in ((anchor, times[0]), (ours, times[1])):
            time.sleep(PAUSE_S)
            for _ in range(runs):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
    return times


def load_and_first_run(art: str, feeds: dict[str, np.ndarray]):
    """(executable, seconds of `tsuc.load`, seconds of the first run after it)."""
    import tsuc

    t0 = time.perf_counter()
    exe = tsuc.load(art)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    exe.run(feeds)
    return exe, t_load, time.perf_counter() - t0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def figure_b_c(workdir: str, runs: int) -> tuple[str, np.ndarray]:
    import onnxruntime as ort

    import tsuc
    from tsuc.compiler.artifact_writer import ArtifactBuilder
    from tsuc.compiler.driver import lower
    from tsuc.compiler.emit import emit_module
    from tsuc.targets.registry import get_target
    from models import parameter_count, random_resnet50

    model = random_resnet50(os.path.join(workdir, "resnet50_random.onnx"))
    print(f"(b) random-weight ResNet-50: {model} ({parameter_count(model) / 1e6:.1f} M parameters), default options")
    art = os.path.join(workdir, "r50_tfmbs.tsuc")
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "compile", model, "--target=tfmbs", "-o", art], check=True,
                       capture_output=True)
        cli.append(time.perf_counter() - t0)
    print(f"  compile, CLI (tsuc compile --target=tfmbs, incl. interpreter start and artifact load), 3 runs: "
          f"{', '.join(f'{t:.2f}' for t in cli)} s")
    target = get_target("tfmbs")
    t0 = time.perf_counter()
    module, _, _, _ = lower(model, [target], emit="lowered")
    t_lower = time.perf_counter() - t0
    t0 = time.perf_counter()
    emit_module(module, [target], ArtifactBuilder())
    t_emit = time.perf_counter() - t0
    print(f"  in process: import+core passes+partition+tfmbs-lower+tfmbs-allocate {t_lower:.2f} s, emission {t_emit:.2f} s")

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    for _ in range(2):
        sess.run(None, {name: x})
    alone = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        alone.append(time.perf_counter() - t0)
    print(f"  onnxruntime float alone (before any tsuc session exists), median of {runs}: {statistics.median(alone) * 1e3:.1f} ms")
    time.sleep(PAUSE_S)
    exe, t_load, t_first = load_and_first_run(art, {name: x})
    tf = [e for e in exe.executors if e.spec["kind"] == "tfmbs"]
    for _ in range(2):
        exe.run({name: x})
    steady = []
    for _ in range(3):
        t0 = time.perf_counter()
        exe.run({name: x})
        steady.append(time.perf_counter() - t0)
    print(f"  tsuc.load {t_load * 1e3:.0f} ms (unpacks the PT-5 weights into the integer-product sessions, loads the numba "
          f"kernels); first run {t_first * 1e3:.0f} ms against {statistics.median(steady) * 1e3:.0f} ms for the next ones: "
          f"+{(t_first - statistics.median(steady)) * 1e3:.0f} ms")
    t_ort, t_tsuc = interleaved(lambda: sess.run(None, {name: x}), lambda: exe.run({name: x}), runs)
    t_prof = []
    for _ in range(runs):
        exe.run({name: x})
        for e in tf:  # recompute every counter of every layer from scratch
            e._profile_cache = None
        t0 = time.perf_counter()
        exe.profile()
        t_prof.append(time.perf_counter() - t0)
    m_ort, m_tsuc, m_prof = (statistics.median(v) * 1e3 for v in (t_ort, t_tsuc, t_prof))
    segs = exe.profile()["segments"]
    fab_ms = sum(s["wall_ms"] for s in segs if s["kind"] == "tfmbs")
    host_ms = sum(s["wall_ms"] for s in segs if s["kind"] != "tfmbs")
    print(f"  run, median of {ROUNDS} alternating blocks of {runs} back-to-back runs each ({PAUSE_S * 1e3:.0f} ms pause "
          f"between blocks: onnxruntime's session spins a worker ~50 ms after its runs): onnxruntime float {m_ort:.1f} ms; "
          f"tsuc tfmbs artifact {m_tsuc:.1f} ms (ratio {m_tsuc / m_ort:.2f}x; fastest runs {min(t_tsuc) * 1e3:.1f} vs "
          f"{min(t_ort) * 1e3:.1f} ms); {_load()}")
    print(f"  last run: {fab_ms:.1f} ms in {len(tf)} tfmbs segments, {host_ms:.1f} ms in {len(segs) - len(tf)} host segments")
    print(f"  full cycle-accurate profile after a run (exe.profile(), every counter of all {sum(len(e.layers) for e in tf)} "
          f"layers recomputed): {m_prof:.0f} ms")
    fused_figures(model, workdir, sess, name, x, runs)
    total = exe.profile()["total"]
    print(f"  fabric: {total['cycles']:,} cycles = {total['fabric_ms']:.1f} ms at 250 MHz, "
          f"{total['energy_j'] * 1e3:.2f} mJ, compute {total['compute_cycles']:,}, burst wait {total['burst_wait_cycles']:,}")

    print("(c) weight storage in the ResNet-50 artifact")
    weights = stream = meta = 0
    for e in tf:
        for layer in e.layers:
            p = layer.plan
            weights += p.w_planes * p.n * p.k
            stream += layer.stream.nbytes
            meta += layer.scales.nbytes + layer.bias.nbytes + layer.tfds.nbytes
    print(f"  {weights:,} ternary weights in {stream:,} bytes of PT-5: {8 * stream / weights:.4f} bit/weight; "
          f"with scales, bias and TFD programs ({meta:,} bytes): {8 * (stream + meta) / weights:.4f} bit/weight; "
          f"artifact file {os.path.getsize(art):,} bytes (host segments' float weights included)")
    return model, x


def fused_figures(model: str, workdir: str, sess, name: str, x: np.ndarray, runs: int) -> None:
    """The same model compiled with `fuse=true` (every segment in one onnxruntime graph),
    interleaved with onnxruntime's float session again."""
    import tsuc

    art = os.path.join(workdir, "r50_tfmbs_fused.tsuc")
    tsuc.compile(model, target="tfmbs", output=art, options={"fuse": True})
    exe, t_load, t_first = load_and_first_run(art, {name: x})
    for _ in range(2):
        exe.run({name: x})
    t_ort, t_fused = interleaved(lambda: sess.run(None, {name: x}), lambda: exe.run({name: x}), runs)
    t_prof = []
    for _ in range(3):
        exe.run({name: x})
        t0 = time.perf_counter()
        exe.profile()
        t_prof.append(time.perf_counter() - t0)
    m_ort, m_fused = statistics.median(t_ort) * 1e3, statistics.median(t_fused) * 1e3
    print(f"  with --option fuse=true ({len(exe.executors)} segment(s): one onnxruntime graph): run {m_fused:.1f} ms against "
          f"onnxruntime float {m_ort:.1f} ms (ratio {m_fused / m_ort:.2f}x), load {t_load * 1e3:.0f} ms (session built), first "
          f"run {t_first * 1e3:.0f} ms, full profile (re-runs the graph on the kept inputs for the levels) "
          f"{statistics.median(t_prof) * 1e3:.0f} ms; {_load()}")


ACCURACY_OPTIONS = [{}, {"w_planes": 2}, {"w_planes": 5, "act_trits": 9}]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _float_weights(node, inits: dict[str, np.ndarray]) -> np.ndarray:
    """W[N, K] of a Conv, Gemm or MatMul node, as the fabric layer sees it."""
    w = inits[node.input[1]].astype(np.float64)
    if node.op_type == "Conv":
        return w.reshape(w.shape[0], -1)
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return w if trans_b else w.T
    return w.T  # MatMul: B[K, N]


def _dequantised_layer(layer, x: np.ndarray) -> np.ndarray:
    """The layer in float64 with its dequantised weights (sum_p scale_p * trits_p) on input x."""
    from tsuc.runtime.tfmbs.host_ops import im2col

    wd = np.einsum("pn,pnk->nk", layer.scales.astype(np.float64), layer.trits.astype(np.float64))
    x = np.asarray(x, np.float64)
    if layer.conv is not None:
        c = layer.conv
        y = im2col(x, c["kernel_shape"], c["strides"], c["pads"], c["dilations"]) @ wd.T
        b, n, oh, ow = layer.out_shape
        y = y * layer.alpha + layer.bias.astype(np.float64)
        return y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2)
    return (x.reshape(-1, layer.plan.k) @ wd.T * layer.alpha + layer.bias.astype(np.float64)).reshape(layer.out_shape)


def figure_d(model: str, x: np.ndarray, workdir: str) -> None:
    """Accuracy against float onnxruntime, layer by layer (is the error a bug or the network?)."""
    from tsuc.compiler.driver import compile_model
    from tsuc.compiler.frontends.onnx_import import load_onnx, prepare
    from tsuc.tools.verify import reference_session

    graph = prepare(load_onnx(model), model, {}).graph
    labels = {}  # tensor name -> exposed output name of its producer
    nodes = {}
    for index, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{index}"
        nodes[label] = node
        for k, out in enumerate(node.output):
            labels[out] = f"{label}#{k}"
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    sess = reference_session(prepare(load_onnx(model), model, {}), [o for n in graph.node for o in n.output])
    name = sess.get_inputs()[0].name
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {name: x})))
    out_name = graph.output[0].name
    softmax = next((n for n in graph.node if n.op_type == "Softmax" and n.output[0] == out_name), None)
    print("(d) accuracy against float onnxruntime on the same input (relative L2 error ||ours - float|| / ||float||)")
    if softmax is not None:
        logits = ref[softmax.input[0]].ravel()
        top = np.sort(logits)[::-1]
        print(f"  float logits: std {logits.std():.1f}, max {top[0]:.1f}, gap between the top two {top[0] - top[1]:.2f}; "
              f"softmax max probability {ref[out_name].max():.4f}: the softmax is one-hot, so a top-1 flip alone makes "
              f"its error sqrt(2) = 1.414")
    for options in ACCURACY_OPTIONS:
        label = " ".join(f"{k}={v}" for k, v in options.items()) or "defaults (w_planes=1 act_trits=5)"
        exe = compile_model(model, target="tfmbs", output=os.path.join(workdir, "r50_all_layers.tsuc"), options=options,
                            expose_all=True)
        ours = exe.run({name: x})
        layers = [layer for e in exe.executors if e.spec["kind"] == "tfmbs" for layer in e.layers]
        growth, local, weight = [], [], []
        for layer in layers:
            node = nodes[layer.plan.name]
            y = ours[labels[node.output[0]]]
            growth.append(_rel(y, ref[node.output[0]]))
            src = node.input[0]
            x_in = x if src == name else ours[labels[src]]
            local.append(_rel(y, _dequantised_layer(layer, x_in)))
            w = _float_weights(node, inits)
            wd = np.einsum("pn,pnk->nk", layer.scales.astype(np.float64), layer.trits.astype(np.float64))
            weight.append(_rel(wd, w))
        step = max(1, len(layers) // 9)
        picks = list(range(0, len(layers) - 1, step)) + [len(layers) - 1]
        print(f"  {label}:")
        print(f"    weights: quantisation error ||W_q - W|| / ||W|| mean {np.mean(weight):.3f} (min {min(weight):.3f}, "
              f"max {max(weight):.3f}); every fabric layer against the float64 layer with its dequantised weights on the same "
              f"input: at most {max(local):.1e} (the activations' rounding)")
        print("    error of the fabric layers' outputs against float, growing with depth: " +
              ", ".join(f"{layers[i].plan.name} {growth[i]:.3f}" for i in picks))
        if softmax is not None:
            lg, sm = ours[labels[softmax.input[0]]], ours[out_name]
            print(f"    logits (softmax input): {_rel(lg, ref[softmax.input[0]]):.3f}; softmax output: {_rel(sm, ref[out_name]):.3f}; "
                  f"top-1 {int(sm.argmax())} vs float {int(ref[out_name].argmax())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating blocks of --runs calls per side (default 3)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench"))
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true", help="leave out (d), the layer-by-layer accuracy (three compiles)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    figure_a(args.workdir)
    if not args.skip_resnet:
        globals()["ROUNDS"] = max(1, args.rounds)
        model, x = figure_b_c(args.workdir, args.runs)
        if not args.skip_accuracy:
            figure_d(model, x, args.workdir)


if __name__ == "__main__":
    main()

"""Benchmark and hand-checkable figures of the tfmbs target.

    python -m tsuc.tools.bench_tfmbs [--runs 10] [--workdir DIR] [--skip-resnet]

(a) One Gemm, K=2048, N=120, batch 1, act_trits=1, w_planes=1: the frame count, cycles and
    utilisation from the simulator, next to the same numbers worked out by hand from the
    machine's parameters (printed as arithmetic).
(b) The 25.6 M-parameter random-weight ResNet-50 (`tools/models.py`): compile time
    (`tsuc compile --target=tfmbs` on the CLI, and the stages in process), run time of the
    artifact against onnxruntime on the float model (interleaved, median), and the time the
    full cycle-accurate profile takes (every counter of every layer).
(c) Weight storage in the artifact: bits per weight of the PT-5 streams, and with the
    per-layer metadata (scales, bias, TFD programs) added.
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


def figure_b_c(workdir: str, runs: int) -> None:
    import onnxruntime as ort

    import tsuc
    from tsuc.compiler.artifact_writer import ArtifactBuilder
    from tsuc.compiler.driver import lower
    from tsuc.compiler.emit import emit_module
    from tsuc.targets.registry import get_target
    from tsuc.tools.models import parameter_count, random_resnet50

    model = random_resnet50(os.path.join(workdir, "resnet50_random.onnx"))
    print(f"(b) random-weight ResNet-50: {model} ({parameter_count(model) / 1e6:.1f} M parameters), default options")
    art = os.path.join(workdir, "r50_tfmbs.tsuc")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tsuc.tools.cli", "compile", model, "--target=tfmbs", "-o", art], check=True,
                   capture_output=True)
    cli = time.perf_counter() - t0
    print(f"  compile, CLI (tsuc compile --target=tfmbs, incl. interpreter start and artifact load): {cli:.2f} s")
    target = get_target("tfmbs")
    t0 = time.perf_counter()
    module, _, _, _ = lower(model, target, emit="target")
    t_lower = time.perf_counter() - t0
    t0 = time.perf_counter()
    emit_module(module, target, ArtifactBuilder())
    t_emit = time.perf_counter() - t0
    t0 = time.perf_counter()
    lower(model, target, emit="linalg")
    t_linalg = time.perf_counter() - t0
    print(f"  in process: import+core passes+partition+tfmbs-lower+tfmbs-allocate {t_lower:.2f} s, emission {t_emit:.2f} s; "
          f"the same through the --emit=linalg view {t_linalg:.2f} s")

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
    print(f"  onnxruntime float alone (before any tsuc session exists), median of {runs}: {statistics.median(alone) * 1e3:.0f} ms")
    exe = tsuc.load(art)
    ref = sess.run(None, {name: x})[0]
    ours = exe.run({name: x})[exe.outputs[0].name]
    rel = float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))
    print(f"  output vs float onnxruntime: relative L2 error {rel:.3f}, top-1 agrees: {int(ours.argmax()) == int(ref.argmax())}")
    tf = [e for e in exe.executors if e.spec["kind"] == "tfmbs"]
    for _ in range(2):
        sess.run(None, {name: x})
        exe.run({name: x})
    t_ort, t_tsuc, t_prof = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        t_ort.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exe.run({name: x})
        t_tsuc.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for e in tf:  # recompute every counter of every layer from scratch
            e._profile_cache = None
            e.profile()
        t_prof.append(time.perf_counter() - t0)
    m_ort, m_tsuc, m_prof = (statistics.median(v) * 1e3 for v in (t_ort, t_tsuc, t_prof))
    segs = exe.profile()["segments"]
    fab_ms = sum(s["wall_ms"] for s in segs if s["kind"] == "tfmbs")
    host_ms = sum(s["wall_ms"] for s in segs if s["kind"] != "tfmbs")
    print(f"  run, median of {runs} interleaved (the artifact's ~50 host onnxruntime sessions spin after each run and "
          f"slow both sides): onnxruntime float {m_ort:.0f} ms; tsuc tfmbs artifact {m_tsuc:.0f} ms "
          f"(ratio {m_tsuc / m_ort:.2f}x; includes the profile, which the runtime computes after every run); "
          f"last run: {fab_ms:.0f} ms in {len(tf)} tfmbs segments, {host_ms:.0f} ms in {len(segs) - len(tf)} host segments")
    nospin = _without_ort_spinning(art)
    t_ort2, t_ns = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        t_ort2.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        nospin.run({name: x})
        t_ns.append(time.perf_counter() - t0)
    m_ort2, m_ns = statistics.median(t_ort2) * 1e3, statistics.median(t_ns) * 1e3
    print(f"  the same with the host segments' onnxruntime sessions not spinning (session.intra_op.allow_spinning=0, "
          f"a runtime/host.py setting): onnxruntime float {m_ort2:.0f} ms, tsuc {m_ns:.0f} ms, ratio {m_ns / m_ort2:.2f}x")
    print(f"  full cycle-accurate profile (all {sum(len(e.layers) for e in tf)} layers, every counter): {m_prof:.0f} ms")
    total = exe.profile()["total"]
    print(f"  fabric: {total['cycles']:,} cycles = {total['fabric_ms']:.1f} ms at 250 MHz, "
          f"{total['energy_j'] * 1e3:.2f} mJ, compute {total['compute_cycles']:,}, burst wait {total['burst_wait_cycles']:,}")

    print("(c) weight storage in the ResNet-50 artifact")
    weights = stream = meta = 0
    for e in tf:
        for layer, entry in zip(e.layers, e.spec["config"]["layers"]):
            p = layer.plan
            weights += p.w_planes * p.n * p.k
            stream += layer.stream.nbytes
            meta += layer.scales.nbytes + layer.bias.nbytes + layer.tfds.nbytes
    print(f"  {weights:,} ternary weights in {stream:,} bytes of PT-5: {8 * stream / weights:.4f} bit/weight; "
          f"with scales, bias and TFD programs ({meta:,} bytes): {8 * (stream + meta) / weights:.4f} bit/weight; "
          f"artifact file {os.path.getsize(art):,} bytes (host segments' float weights included)")


def _without_ort_spinning(art: str):
    """The artifact loaded with host sessions whose worker threads sleep between runs.

    Measures what one onnxruntime session option in the host executor changes: 50-odd host
    sessions keep their intra-op threads spinning after each run, on the cores the fabric
    simulator's numpy products need next."""
    import onnxruntime as ort

    import tsuc
    import tsuc.runtime.host as host

    original = host.make_session

    def make_session(model_bytes, initializers, threads=0):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        names = list(initializers)
        values = [ort.OrtValue.ortvalue_from_numpy(initializers[n]) for n in names]
        if names:
            opts.add_external_initializers(names, values)
        return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"]), values

    host.make_session = make_session
    try:
        return tsuc.load(art)
    finally:
        host.make_session = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tsuc-bench"))
    parser.add_argument("--skip-resnet", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    figure_a(args.workdir)
    if not args.skip_resnet:
        figure_b_c(args.workdir, args.runs)


if __name__ == "__main__":
    main()

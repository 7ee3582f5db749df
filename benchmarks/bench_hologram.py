"""Figures of the hologram target, each next to its anchor measured in the same run.

    PYTHONPATH=... python benchmarks/bench_hologram.py [--runs 30] [--skip-real] [--skip-torch]

(a) A 600-op elementwise chain with residual adds (100 blocks of h + tanh(h*c + d) *
    sigmoid(h), per-column constants, x [64, 256]): kernels, classes, accuracy against
    onnxruntime, the first run (numba's JIT, from its disk cache when warm) apart, and the
    hologram segment's run time against onnxruntime running the same graph (1 thread and
    its default threads), interleaved, median of `--runs`.
(b) A torch TransformerEncoderLayer (d_model 64, 4 heads, ff 128, batch 2 x 16 tokens) and a
    small conv net with BatchNorm and GELU, exported from torch and compiled with
    --target=hologram: accuracy against torch (rtol 1e-4, atol 1e-5), share of ops on
    hologram, kernels, classes, reduction_pct, and each hologram segment's run time against
    onnxruntime running that segment's own subgraph (exported from the partitioned IR) on
    the same inputs.
(c) reduction_pct = 100 * (1 - canonical ops / original ops) over the hologram segments of
    real graphs: models of the onnx package's test data and the torch exports of (b).
Every section prints the load average (os.getloadavg()) it ran under.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def ort_session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def interleaved(fns: dict, runs: int) -> dict[str, float]:
    """Median milliseconds of each callable, run in alternation after two warm-up calls each."""
    for fn in fns.values():
        fn(), fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def hologram_segments_as_onnx(model, example_inputs=None):
    """Each hologram segment's own ONNX subgraph, from the partitioned IR: {segment name: bytes}."""
    from tsuc.compiler.blobs import blob_store
    from tsuc.compiler.driver import lower
    from tsuc.compiler.onnx_export import export_block
    from tsuc.dialects.tsuc import SegmentOp
    from tsuc.targets.registry import get_target

    module, *_ = lower(model, [get_target("hologram")], example_inputs=example_inputs, emit="partitioned")
    out = {}
    for seg in module.walk():
        if isinstance(seg, SegmentOp) and seg.target.data == "hologram":
            block = seg.body.block
            yielded = list(block.last_op.operands)
            names_in = [f"in{k}" for k in range(len(block.args))]
            names_out = [f"out{k}" for k in range(len(yielded))]
            exported = export_block(block, names_in, yielded, names_out, blob_store(module), external=False, name=seg.sym_name.data)
            out[seg.sym_name.data] = exported.model.SerializeToString()
    return out


def capture_segment_feeds(exe, feeds):
    """Run `exe` once, recording what each hologram segment receives."""
    seen = {}
    for ex in exe.executors:
        if ex.spec["kind"] == "hologram":
            run = ex.run

            def recorder(f, p, ex=ex, run=run):
                seen[ex.name] = {k: np.array(v) for k, v in f.items()}
                return run(f, p)
            ex.run = recorder
    exe.run(feeds)
    for ex in exe.executors:
        ex.__dict__.pop("run", None)
    return seen


def compare_segments(exe, seg_onnx, seg_feeds, runs):
    rows = []
    for ex in exe.executors:
        if ex.spec["kind"] != "hologram":
            continue
        feeds = seg_feeds[ex.name]
        ort_feeds = {f"in{k}": feeds[n] for k, n in enumerate(ex.spec["inputs"])}
        s1, sd = ort_session(seg_onnx[ex.name], 1), ort_session(seg_onnx[ex.name], 0)
        ref = s1.run(None, ort_feeds)
        params: dict = {}
        got = ex.run(feeds, params)
        err = max(float(np.abs(got[n] - r).max()) for n, r in zip(ex.spec["outputs"], ref))
        t = interleaved({"hologram": lambda: ex.run(feeds, params), "ort1": lambda: s1.run(None, ort_feeds),
                         "ort": lambda: sd.run(None, ort_feeds)}, runs)
        rows.append((ex.name, ex.stats["ops_canonical"], ex.stats["kernels"], err, t))
        print(f"    {ex.name}: {ex.stats['ops_canonical']} ops in {ex.stats['kernels']} kernel(s), max |diff| vs ort {err:.2e}; "
              f"hologram {t['hologram']:.3f} ms, onnxruntime 1 thread {t['ort1']:.3f} ms ({t['hologram'] / t['ort1']:.2f}x), "
              f"default threads {t['ort']:.3f} ms ({t['hologram'] / t['ort']:.2f}x)")
    return rows


def section_chain(runs: int) -> None:
    import tsuc
    from tsuc.tests.targets.hologram.models import residual_chain

    print(f"(a) 600-op residual chain, x [64, 256]   [{load()}]")
    model = residual_chain(blocks=100, rows=64, cols=256)
    t = time.perf_counter()
    exe = tsuc.compile(model, target="hologram")
    compile_s = time.perf_counter() - t
    x = np.random.default_rng(1).standard_normal((64, 256)).astype(np.float32)
    t = time.perf_counter()
    y = exe(x)
    first_ms = (time.perf_counter() - t) * 1e3
    s1, sd = ort_session(model.SerializeToString(), 1), ort_session(model.SerializeToString(), 0)
    ref = s1.run(None, {"x": x})[0]
    prof = exe.profile()["segments"][0]
    print(f"    compile {compile_s:.2f} s; {prof['ops_original']} ops -> {prof['kernels']} kernel(s), {prof['classes_used']} classes, "
          f"spill {prof['spill_bytes']} B; max |diff| vs onnxruntime {np.abs(y - ref).max():.2e} "
          f"(allclose rtol 1e-4 atol 1e-4: {np.allclose(y, ref, rtol=1e-4, atol=1e-4)})")
    from tsuc.runtime.hologram import compiled

    print(f"    compiled kernels: {'numba ' + __import__('numba').__version__ if compiled.HAVE_NUMBA else 'no (numpy steps)'}; "
          f"first run {first_ms:.1f} ms (numba's kernels loaded from its disk cache, or compiled when it is cold)")
    print(f"    model: {prof['cycles']} cycles = {prof['sim_time_s'] * 1e6:.1f} us at the default clock, {prof['energy_j'] * 1e6:.2f} uJ")
    seg = exe.executors[0]
    feeds = {"x": x}
    tm = interleaved({"hologram": lambda: seg.run(feeds, {}), "ort1": lambda: s1.run(None, feeds),
                      "ort": lambda: sd.run(None, feeds)}, runs)
    print(f"    hologram segment {tm['hologram']:.3f} ms; onnxruntime same graph 1 thread {tm['ort1']:.3f} ms "
          f"({tm['hologram'] / tm['ort1']:.2f}x), default threads {tm['ort']:.3f} ms ({tm['hologram'] / tm['ort']:.2f}x)   [{load()}]")


def torch_models():
    import torch

    class ConvNet(torch.nn.Module):
        """conv-BN-GELU, conv-GELU-BN (torch's exporter folds a BN that follows a conv into it,
        so the second BN comes after the activation and stays in the graph), mean, linear, softmax."""

        def __init__(self) -> None:
            super().__init__()
            self.c1, self.b1 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
            self.c2, self.b2 = torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.BatchNorm2d(16)
            self.fc = torch.nn.Linear(16, 10)

        def forward(self, x):
            x = torch.nn.functional.gelu(self.b1(self.c1(x)))
            x = self.b2(torch.nn.functional.gelu(self.c2(x)))
            return torch.softmax(self.fc(x.mean(dim=(2, 3))), dim=-1)

    torch.manual_seed(0)
    conv = ConvNet().eval()
    with torch.no_grad():
        for mod in conv.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    enc = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True).eval()
    return [("TransformerEncoderLayer", enc, torch.randn(2, 16, 64)), ("ConvNet(BN, GELU)", conv, torch.randn(2, 3, 16, 16))]


def summary(exe):
    stats = exe.manifest["op_stats"]
    segs = [s for s in exe.manifest["segments"] if s["kind"] == "hologram"]
    st = [s["config"]["stats"] for s in segs]
    original = sum(s["ops_original"] for s in st)
    canonical = sum(s["ops_canonical"] for s in st)
    return {"ops": stats["total"], "on_hologram": stats["by_target"].get("hologram", 0),
            "share": stats["by_target"].get("hologram", 0) / stats["total"], "segments": len(exe.manifest["segments"]),
            "hologram_segments": len(segs), "kernels": sum(s["kernels"] for s in st),
            "classes_used": max([s["classes_used"] for s in st] or [0]), "spill": sum(s["spill_bytes"] for s in st),
            "ops_original": original, "ops_canonical": canonical,
            "reduction_pct": 100 * (1 - canonical / original) if original else 0.0}


def section_torch(runs: int):
    import torch
    import tsuc

    print(f"(b) torch models, --target=hologram   [{load()}]")
    results = []
    for name, model, x in torch_models():
        with torch.no_grad():
            ref = model(x).numpy()
        exe = tsuc.compile(model, target="hologram", example_inputs=(x,))
        y = exe(x.numpy())
        s = summary(exe)
        host = sorted({op for seg in exe.manifest["segments"] if seg["kind"] == "onnx" for op in seg["ops"]})
        print(f"  {name}: max |diff| vs torch {np.abs(y - ref).max():.2e}, allclose(rtol 1e-4, atol 1e-5) "
              f"{np.allclose(y, ref, rtol=1e-4, atol=1e-5)}; {s['on_hologram']}/{s['ops']} ops on hologram "
              f"({100 * s['share']:.0f}%), {s['hologram_segments']} hologram segment(s), {s['kernels']} kernels, "
              f"up to {s['classes_used']} classes, spill {s['spill']} B, vector ops {s['ops_original']} -> {s['ops_canonical']} "
              f"(reduction_pct {s['reduction_pct']:.1f}); host: {', '.join(host) or 'nothing'}")
        prof = exe.profile()
        cyc = sum(p.get("cycles", 0) for p in prof["segments"])
        print(f"    model: {cyc} cycles, {sum(p.get('energy_j', 0) for p in prof['segments']) * 1e9:.1f} nJ over the hologram segments")
        compare_segments(exe, hologram_segments_as_onnx(model, (x,)), capture_segment_feeds(exe, {exe.inputs[0].name: x.numpy()}), runs)
        results.append((name, model, x))
    return results


def section_real(torch_results) -> None:
    import onnx
    import tsuc

    print(f"(c) reduction_pct on real graphs (hologram segments' vector ops before/after canonicalisation)   [{load()}]")
    data = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    rows = []
    for name in ("light_inception_v1", "light_shufflenet", "light_densenet121", "light_resnet50"):
        path = os.path.join(data, name + ".onnx")
        if not os.path.exists(path):
            continue
        t = time.perf_counter()
        exe = tsuc.compile(path, target="hologram")
        rows.append((f"onnx test data {name}", summary(exe), time.perf_counter() - t))
    for name, model, x in torch_results or []:
        exe = tsuc.compile(model, target="hologram", example_inputs=(x,))
        rows.append((f"torch export {name}", summary(exe), 0.0))
    for name, s, secs in rows:
        print(f"  {name}: {s['on_hologram']}/{s['ops']} onnx ops on hologram in {s['hologram_segments']} segments; "
              f"vector ops {s['ops_original']} -> {s['ops_canonical']}: reduction_pct {s['reduction_pct']:.1f} "
              f"(prototype's claim: 60-80){f'; compiled in {secs:.1f} s' if secs else ''}")
    print(f"  [{load()}]")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args(argv)
    section_chain(args.runs)
    torch_results = None if args.skip_torch else section_torch(args.runs)
    if not args.skip_real:
        section_real(torch_results)


if __name__ == "__main__":
    sys.exit(main())

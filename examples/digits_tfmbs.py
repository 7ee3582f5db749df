"""Accuracy of a small MLP on the Ternary Fabric: scikit-learn's 8x8 digits, end to end.

    python examples/digits_tfmbs.py            # the full run (about a minute)
    python examples/digits_tfmbs.py --quick    # CI smoke test (a few seconds of training)

1. Load the 1797 8x8 digits that scikit-learn ships (no download), scale pixels to [0, 1],
   split 80/20 (stratified, fixed seed).
2. Train a float MLP 64-128-64-10 in torch.
3. Export it to ONNX (`torch.onnx.export(..., dynamo=True)`), compile it with
   `tsuc.compile(path, target="tfmbs", options=...)` for each quantisation setting and run
   the artifact on the test set, one image per call (the activation scale is dynamic per
   call, so batching would let images influence each other's quantisation).
4. Fine-tune quantisation-aware: `tsuc.nn.swap_linear_layers` turns the nn.Linear layers
   into `TFMBSLinear` (straight-through estimator, single weight plane), train a few epochs,
   then evaluate (a) the TFMBSLinear model in eval mode (the fabric model) and (b) its
   weights loaded into the plain float MLP (state_dict compatible), exported and compiled with
   `w_planes=1`. The two must agree exactly; the script checks it.

Every tfmbs figure comes from running a compiled artifact; `--backend reference` evaluates
with the independent numpy model of the fabric's arithmetic in tests/targets/tfmbs/reference.py
instead (the two are bit-exact; tests/targets/tfmbs/test_bitexact.py checks it).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

# The quantisation settings reported (label, target options).
SETTINGS = [
    ("tfmbs act_trits=1 (sign), w_planes=1", {"act_trits": 1, "w_planes": 1}),
    ("tfmbs act_trits=5, w_planes=1", {"act_trits": 5, "w_planes": 1}),
    ("tfmbs act_trits=5, w_planes=2", {"act_trits": 5, "w_planes": 2}),
    ("tfmbs act_trits=5, w_planes=3", {"act_trits": 5, "w_planes": 3}),
    ("tfmbs twn-opt, act_trits=5, w_planes=1", {"act_trits": 5, "w_planes": 1, "quant": "twn-opt"}),
    ("tfmbs twn-opt, act_trits=5, w_planes=2", {"act_trits": 5, "w_planes": 2, "quant": "twn-opt"}),
    ("tfmbs twn-opt, act_trits=5, w_planes=3", {"act_trits": 5, "w_planes": 3, "quant": "twn-opt"}),
]
QAT_OPTIONS = {"act_trits": 5, "w_planes": 1}


@dataclass
class Row:
    label: str
    accuracy: float
    how: str
    cycles_per_image: float | None = None
    options: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def load_data(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def make_mlp():
    from torch import nn

    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def train(model, x, y, epochs: int, lr: float, seed: int, weight_decay: float = 0.0):
    """Plain Adam on cross-entropy, minibatches of 32 in a seeded order."""
    import torch
    import torch.nn.functional as F

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    return model


def torch_accuracy(model, x, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def export_onnx(model, path: str) -> str:
    """The float MLP as ONNX with a dynamic batch: input `x`, output `logits`."""
    import contextlib
    import io

    import torch

    model = copy.deepcopy(model).eval()
    with contextlib.redirect_stdout(io.StringIO()):
        prog = torch.onnx.export(model, (torch.zeros(2, 64),), dynamo=True, input_names=["x"], output_names=["logits"],
                                 dynamic_shapes=({0: torch.export.Dim("batch")},))
        prog.save(path)
    return path


def compiled_available() -> bool:
    return importlib.util.find_spec("tsuc.targets.tfmbs.target") is not None


def per_image(fn, x: np.ndarray) -> np.ndarray:
    return np.concatenate([fn(x[i:i + 1]) for i in range(len(x))])


def eval_compiled(onnx_path: str, options: dict, x: np.ndarray, y: np.ndarray, out_dir: str) -> tuple[float, float, np.ndarray]:
    """Compile for tfmbs, run the artifact image by image; (accuracy, fabric cycles per image in
    steady state, logits)."""
    import tsuc

    tag = "_".join(f"{k}{v}" for k, v in sorted(options.items()))
    # The batch stays dynamic (the fabric runs any row count); we feed one image per call.
    exe = tsuc.compile(onnx_path, target="tfmbs", output=os.path.join(out_dir, f"digits_{tag}.tsuc"), options=options)
    layers = [e for s in exe.manifest["segments"] if s["kind"] == "tfmbs" for e in s["config"]["layers"]]
    if len(layers) != 3 or any(e["in_shape"][0] >= 0 for e in layers):
        raise RuntimeError(f"expected the 3 Gemm layers on the fabric with a run-time batch, got {[e['in_shape'] for e in layers]}")
    cycles = []

    def run(xb):
        out = exe.run({"x": xb})["logits"]
        cycles.append(exe.profile()["total"]["cycles"])
        return out

    logits = per_image(run, x)
    # Steady state: the first call also loads the resident weights (its DMA is counted once).
    steady = cycles[1:] or cycles
    return float((logits.argmax(1) == y).mean()), float(np.mean(steady)), logits


def eval_reference(weights: list, options: dict, x: np.ndarray, y: np.ndarray) -> tuple[float, None, np.ndarray]:
    """The same model through the numpy reference of the fabric's arithmetic."""
    ref = _reference_module()

    def run(xb):
        h = xb
        for i, (w, b) in enumerate(weights):
            h = ref.linear(h, w, b, **options)
            if i < len(weights) - 1:
                h = np.maximum(h, np.float32(0))
        return h

    logits = per_image(run, x)
    return float((logits.argmax(1) == y).mean()), None, logits


def _reference_module():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "targets", "tfmbs", "reference.py")
    spec = importlib.util.spec_from_file_location("tfmbs_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def weight_error(weights: list, quant: str, w_planes: int) -> float:
    """Relative L2 error of the quantised weights over all layers: ||W - W_q|| / ||W||."""
    from tsuc.targets.tfmbs.quantize import dequantize_weights, quantize_weights

    err = total = 0.0
    for w, _ in weights:
        q = dequantize_weights(*quantize_weights(w, quant, w_planes)).astype(np.float64)
        err += float(((q - w) ** 2).sum())
        total += float((w.astype(np.float64) ** 2).sum())
    return (err / total) ** 0.5


def linear_weights(model) -> list:
    from torch import nn

    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model.modules() if isinstance(m, nn.Linear)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short training and a test subset, for CI")
    parser.add_argument("--seed", type=int, default=0, help="data split, initialisation and batch order")
    parser.add_argument("--backend", choices=("auto", "compiled", "reference"), default="auto",
                        help="how tfmbs figures are computed: the compiled artifact (default when the tfmbs target "
                             "is installed) or the numpy reference")
    parser.add_argument("--out-dir", default=None, help="keep the ONNX files and artifacts here")
    args = parser.parse_args(argv)

    import torch

    torch.manual_seed(args.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reproducible float training
    try:
        return _run(args, parser, torch)
    finally:
        torch.set_num_threads(threads)


def _run(args, parser, torch) -> dict:
    backend = args.backend
    if backend == "auto":
        backend = "compiled" if compiled_available() else "reference"
    if backend == "compiled" and not compiled_available():
        parser.error("the tfmbs target is not installed; use --backend reference")

    float_epochs, qat_epochs = (12, 3) if args.quick else (60, 10)
    xtr, xte, ytr, yte = load_data(args.seed)
    if args.quick:
        xte, yte = xte[:120], yte[:120]
    t0 = time.perf_counter()
    model = train(make_mlp(), xtr, ytr, float_epochs, 1e-3, args.seed)
    train_s = time.perf_counter() - t0
    rows = [Row("float (torch)", torch_accuracy(model, xte, yte), f"torch, {float_epochs} epochs ({train_s:.1f} s)")]

    tmp = tempfile.TemporaryDirectory() if args.out_dir is None else None
    out_dir = args.out_dir or tmp.name
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = export_onnx(model, os.path.join(out_dir, "digits_mlp.onnx"))

    def evaluate(path: str, weights: list, options: dict):
        if backend == "compiled":
            return eval_compiled(path, options, xte, yte, out_dir)
        return eval_reference(weights, options, xte, yte)

    how = "compiled artifact" if backend == "compiled" else "numpy reference"

    def evaluate_row(label: str, path: str, weights: list, options: dict) -> np.ndarray:
        acc, cyc, logits = evaluate(path, weights, options)
        row = Row(label, acc, how, cyc, dict(options))
        row.extra["weight_error"] = weight_error(weights, options.get("quant", "twn"), options.get("w_planes", 1))
        if backend == "compiled":  # the independent reference must agree bit for bit
            _, _, expect = eval_reference(weights, options, xte, yte)
            row.extra["same_as_reference"] = bool(np.array_equal(logits, expect))
        rows.append(row)
        return logits

    for label, options in SETTINGS:
        evaluate_row(label, onnx_path, linear_weights(model), options)

    # Quantisation-aware fine-tune with TFMBSLinear (straight-through estimator).
    from tsuc.nn import TFMBSLinear, swap_linear_layers

    t0 = time.perf_counter()
    qat = swap_linear_layers(copy.deepcopy(model), **QAT_OPTIONS)
    train(qat, xtr, ytr, qat_epochs, 5e-4, args.seed + 1)
    qat_s = time.perf_counter() - t0
    fabric = qat[0].fabric  # swap_linear_layers put all layers on one Fabric model
    fab_cycles = []

    def on_fabric(xb):
        before = fabric.profile()["cycles"]
        out = qat(torch.from_numpy(xb)).detach().numpy()
        fab_cycles.append(fabric.profile()["cycles"] - before)
        return out

    fabric_logits = per_image(on_fabric, xte)
    rows.append(Row("fine-tuned, TFMBSLinear eval (Fabric model)", float((fabric_logits.argmax(1) == yte).mean()),
                    f"tsuc.nn, {qat_epochs} QAT epochs ({qat_s:.1f} s)", float(np.mean(fab_cycles[1:] or fab_cycles)),
                    dict(QAT_OPTIONS)))
    assert all(isinstance(m, TFMBSLinear) for m in qat if hasattr(m, "weight"))
    plain = make_mlp()
    plain.load_state_dict(qat.state_dict())  # TFMBSLinear's state_dict is nn.Linear's
    qat_path = export_onnx(plain, os.path.join(out_dir, "digits_mlp_qat.onnx"))
    qat_logits = evaluate_row("fine-tuned, tfmbs act_trits=5, w_planes=1", qat_path, linear_weights(plain), QAT_OPTIONS)
    same = bool(np.array_equal(qat_logits, fabric_logits))

    report = _print_table(rows, backend, same, args)
    if tmp is not None:
        tmp.cleanup()
    return report


def _print_table(rows: list[Row], backend: str, same: bool, args) -> dict:
    base = rows[0].accuracy
    print(f"digits 8x8, MLP 64-128-64-10, seed {args.seed}{' (quick)' if args.quick else ''}; "
          f"tfmbs figures from: {backend}")
    print(f"{'setting':46s} {'accuracy':>9s} {'vs float':>9s} {'w error':>8s} {'cycles/img':>11s} {'= ref':>6s}  how")
    for r in rows:
        delta = "" if r is rows[0] else f"{(r.accuracy - base) * 100:+.1f}"
        cyc = "" if r.cycles_per_image is None else f"{r.cycles_per_image:.0f}"
        werr = "" if "weight_error" not in r.extra else f"{r.extra['weight_error']:.4f}"
        same_ref = {True: "yes", False: "NO", None: ""}[r.extra.get("same_as_reference")]
        print(f"{r.label:46s} {r.accuracy * 100:8.2f}% {delta:>9s} {werr:>8s} {cyc:>11s} {same_ref:>6s}  {r.how}")
    print("w error: ||W - W_q|| / ||W|| over the three layers' weights")
    print("= ref: the compiled artifact's logits equal the numpy reference (tests/targets/tfmbs/reference.py) bit for bit")
    print(f"fine-tuned model: TFMBSLinear eval (Fabric model) and the compiled artifact agree bit for bit: "
          f"{'yes' if same else 'NO'}")
    by = {r.label: r.accuracy for r in rows}
    two = by["tfmbs act_trits=5, w_planes=2"]
    tuned = by["fine-tuned, tfmbs act_trits=5, w_planes=1"]
    checks = {
        "w_planes=2 within 2 points of float": base - two <= 0.02 + 1e-9,
        "fine-tuned w_planes=1 within 1 point of float": base - tuned <= 0.01 + 1e-9,
    }
    for name, ok in checks.items():
        print(f"target: {name}: {'met' if ok else 'MISSED'}")
    same_ref = all(r.extra.get("same_as_reference", True) for r in rows)
    return {"rows": rows, "bitexact_qat": same, "bitexact_reference": same_ref, "checks": checks, "backend": backend}


if __name__ == "__main__":
    main(sys.argv[1:])

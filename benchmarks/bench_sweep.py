"""`tsuc sweep` on Ray against the same points run serially, and a p-bit sweep on G6.

    python3 benchmarks/bench_sweep.py [--out DIR] [--workers 2] [--epochs 30] [--g6-sweeps 500]

1. Trains the digits MLP of examples/digits_tfmbs.py (64-128-64-10, scikit-learn's 8x8
   digits, a few seconds), exports it to ONNX with a fixed batch of 120 test images and saves
   those images as DIR/inputs/x.npy.
2. Runs, as subprocesses, the command a user types:
       tsuc sweep digits.onnx --target tfmbs --grid w_planes=1,2,3 --grid act_trits=1,3,5
             --grid tiles=2,4 --inputs DIR/inputs --workers 2 -o DIR/ray
   and the same points with `--workers 0` (one process, one point after another, no Ray),
   and prints both wall times (the anchor is the serial run), the sum of the points' own
   compile and run times, and the table.
3. `tsuc sweep G6.txt --target tsu --grid j_bits=2,3,4,8 --grid schedule=linear,geometric
   --param reads=16 --param sweeps=N --workers 2`: best cut and simulated energy per point,
   next to the best-known cut of G6 (2178), and the same points with `--workers 0`.
Prints the load average before and after; the machine may be shared, which limits what two
workers can gain.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "examples"))
G6 = next((p for p in (os.path.join(ROOT, "..", "..", "shared", "data", "gset", "G6.txt"),
                       "/work/shared/data/gset/G6.txt") if os.path.isfile(p)), None)


def load() -> str:
    a = os.getloadavg()
    return f"{a[0]:.2f} {a[1]:.2f} {a[2]:.2f}"


def build_digits(out: str, epochs: int) -> tuple[str, str, float]:
    import torch
    from digits_tfmbs import load_data, make_mlp, torch_accuracy, train

    torch.manual_seed(0)
    torch.set_num_threads(1)
    xtr, xte, ytr, yte = load_data(0)
    model = train(make_mlp(), xtr, ytr, epochs=epochs, lr=1e-3, seed=0)
    acc = torch_accuracy(model, xte, yte)
    x = xte[:120]
    path = os.path.join(out, "digits.onnx")
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True, input_names=["x"], output_names=["logits"]).save(path)
    inputs = os.path.join(out, "inputs")
    os.makedirs(inputs, exist_ok=True)
    np.save(os.path.join(inputs, "x.npy"), x)
    return path, inputs, acc


def tsuc_cmd(*args: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [os.path.dirname(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "tsuc", *args], check=False, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"tsuc {' '.join(args)} failed: {res.stderr}")
    return wall, res.stdout.strip()


def table(path: str, columns: list[str]) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    print("  " + " | ".join(columns))
    for r in rows:
        print("  " + " | ".join(_fmt(r.get(c, "")) for c in columns))
    return rows


def _fmt(v: str) -> str:
    try:
        f = float(v)
    except ValueError:
        return v
    return f"{f:.4g}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/tsuc-bench-sweep")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--g6-sweeps", type=int, default=500)
    ap.add_argument("--skip-g6", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print(f"load average at start: {load()}")
    model, inputs, acc = build_digits(args.out, args.epochs)
    print(f"digits MLP 64-128-64-10: float test accuracy {acc:.4f}; sweeping on 120 test images ({model})")
    grid = ["--grid", "w_planes=1,2,3", "--grid", "act_trits=1,3,5", "--grid", "tiles=2,4"]
    for d in ("ray", "serial"):
        path = os.path.join(args.out, d, "sweep.csv")
        if os.path.exists(path):
            os.unlink(path)  # measure every point, not a resumed sweep
    ray_s, ray_out = tsuc_cmd("sweep", model, "--target", "tfmbs", *grid, "--inputs", inputs,
                              "--workers", str(args.workers), "-o", os.path.join(args.out, "ray"))
    serial_s, _ = tsuc_cmd("sweep", model, "--target", "tfmbs", *grid, "--inputs", inputs,
                                    "--workers", "0", "-o", os.path.join(args.out, "serial"))
    print(f"tfmbs sweep, 18 points: --workers {args.workers} (Ray) {ray_s:.1f} s wall; --workers 0 (serial anchor) "
          f"{serial_s:.1f} s wall; speed-up {serial_s / ray_s:.2f}x  [{ray_out}]")
    rows = table(os.path.join(args.out, "ray", "sweep.csv"),
                 ["point", "status", "compile_s", "run_ms", "cycles", "utilization", "energy_j", "bits_per_weight", "rel_l2", "top1"])
    work = sum(float(r["compile_s"]) + float(r["run_ms"]) / 1e3 for r in rows if r["status"] == "ok")
    print(f"sum of the points' compile + run time (Ray run): {work:.1f} s; plot: {os.path.join(args.out, 'ray', 'pareto.png')}")
    print(f"load average after the tfmbs sweeps: {load()}")
    if args.skip_g6 or G6 is None:
        return
    path = os.path.join(args.out, "g6", "sweep.csv")
    if os.path.exists(path):
        os.unlink(path)
    g6_s, g6_out = tsuc_cmd("sweep", G6, "--target", "tsu", "--grid", "j_bits=2,3,4,8", "--grid", "schedule=linear,geometric",
                            "--param", "reads=16", "--param", f"sweeps={args.g6_sweeps}", "--workers", str(args.workers),
                            "-o", os.path.join(args.out, "g6"))
    serial_dir = os.path.join(args.out, "g6-serial")
    if os.path.exists(os.path.join(serial_dir, "sweep.csv")):
        os.unlink(os.path.join(serial_dir, "sweep.csv"))
    g6_serial_s, _ = tsuc_cmd("sweep", G6, "--target", "tsu", "--grid", "j_bits=2,3,4,8", "--grid", "schedule=linear,geometric",
                              "--param", "reads=16", "--param", f"sweeps={args.g6_sweeps}", "--workers", "0", "-o", serial_dir)
    print(f"tsu sweep on G6 (best known cut 2178), 8 points, reads=16 sweeps={args.g6_sweeps}: --workers {args.workers} "
          f"(Ray) {g6_s:.1f} s wall; --workers 0 (serial anchor) {g6_serial_s:.1f} s wall; speed-up "
          f"{g6_serial_s / g6_s:.2f}x [{g6_out}]")
    table(path, ["point", "status", "compile_s", "run_ms", "cycles", "energy_j", "bits_per_weight", "cut", "best_energy"])
    print(f"load average at end: {load()}")


if __name__ == "__main__":
    main()

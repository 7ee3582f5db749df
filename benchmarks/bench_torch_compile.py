"""`torch.compile(model, backend="tsuc")` on a conv net, an MLP and a transformer encoder layer.

    python3 benchmarks/bench_torch_compile.py [--targets cpu,tfmbs] [--runs 20]

For each model and target: the maximum absolute difference from eager (and the relative L2
error, which is what matters for the quantised fabric), the wall time of the first call
(dynamo capture + ONNX export + tsuc compile + load + run) and the median of `--runs` cached
calls, next to the anchors measured in the same run: eager PyTorch, and
with `--inductor`, `torch.compile(backend="inductor")` first and cached call.
Everything runs with one torch thread (the machine is shared). Prints the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def models():
    torch.manual_seed(0)
    return {
        "conv net (2 conv + fc, 8x3x32x32)": (ConvNet().eval(), torch.randn(8, 3, 32, 32)),
        "MLP 784-256-128-10 (batch 32)": (nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                                        nn.Linear(128, 10)).eval(), torch.randn(32, 784)),
        "encoder layer d=64 h=4 ff=256 (2x16x64)": (nn.TransformerEncoderLayer(64, 4, 256, dropout=0.0, batch_first=True).eval(),
                                                    torch.randn(2, 16, 64)),
    }


def timed(fn, x, runs):
    t0 = time.perf_counter()
    first = fn(x)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return first, first_s, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="cpu,tfmbs")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--inductor", action="store_true", help="Also time torch.compile(backend='inductor') (slow to compile).")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from torch._dynamo.backends.registry import lookup_backend

    from tsuc.tools import torch_backend

    try:
        lookup_backend("tsuc")
    except Exception:  # noqa: BLE001 - a source tree without the installed entry point
        torch_backend.register()
        print("note: backend 'tsuc' registered by hand (this tsuc is not pip-installed with its entry points)")

    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'model':42s} {'backend':18s} {'max|diff|':>10s} {'rel L2':>9s} {'first call':>11s} {'cached call':>12s}")
    for name, (model, x) in models().items():
        with torch.no_grad():
            want, _, eager_s = timed(model, x, args.runs)
            print(f"{name:42s} {'eager (anchor)':18s} {'':>10s} {'':>9s} {'':>11s} {eager_s * 1e3:10.3f}ms")
            torch._dynamo.reset()
            try:
                if not args.inductor:
                    raise RuntimeError("not requested (--inductor)")
                got, first_s, cached_s = timed(torch.compile(model, backend="inductor"), x, args.runs)
                diff = float((got - want).abs().max())
                print(f"{'':42s} {'inductor (anchor)':18s} {diff:10.2e} {'':>9s} {first_s:10.2f}s {cached_s * 1e3:10.3f}ms")
            except Exception as e:  # noqa: BLE001 - an anchor that cannot run here is reported, not fatal
                print(f"{'':42s} {'inductor (anchor)':18s} skipped: {e}")
            for target in args.targets.split(","):
                torch._dynamo.reset()
                torch_backend.clear_cache()
                fn = torch.compile(model, backend="tsuc", options={"target": target})
                got, first_s, cached_s = timed(fn, x, args.runs)
                diff = float((got - want).abs().max())
                rel = float(torch.linalg.norm(got - want) / torch.linalg.norm(want))
                print(f"{'':42s} {'tsuc ' + target:18s} {diff:10.2e} {rel:9.2e} {first_s:10.2f}s {cached_s * 1e3:10.3f}ms")
                # a second torch.compile of the same model: dynamo captures again, tsuc's cache answers
                torch._dynamo.reset()
                fn = torch.compile(model, backend="tsuc", options={"target": target})
                t0 = time.perf_counter()
                fn(x)
                print(f"{'':42s} {'  recompile, cached':18s} {'':>10s} {'':>9s} {time.perf_counter() - t0:10.2f}s")
    print(f"load average at end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()

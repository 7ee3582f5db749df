"""A slow, obviously correct interpreter of a hologram segment, for tests.

One op at a time, in the order of the kernels' op lists, every result a fresh array, no
fusion, no pool, no `out=`; GELU and erf through `math.erf` element by element. It counts
what the engine does from the arrays it actually computes, with its own table (below, kept
apart from `machine.OP_STEPS` on purpose: a test compares the two): lane-ops per step kind
(s simple, d div/sqrt, t transcendental) and reduction-tree outputs. It shares no code with
`kernels.py` or `machine.py`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# op -> (simple, div, transcendental) steps per element, trees per output row, logs per row
_TABLE: dict[str, tuple[int, int, int, int, int]] = {
    "add": (1, 0, 0, 0, 0), "sub": (1, 0, 0, 0, 0), "mul": (1, 0, 0, 0, 0), "min": (1, 0, 0, 0, 0), "max": (1, 0, 0, 0, 0),
    "div": (0, 1, 0, 0, 0), "abs": (1, 0, 0, 0, 0), "neg": (1, 0, 0, 0, 0), "relu": (1, 0, 0, 0, 0), "clip": (1, 0, 0, 0, 0),
    "fill": (1, 0, 0, 0, 0), "add_scalar": (1, 0, 0, 0, 0), "mul_scalar": (1, 0, 0, 0, 0), "sqrt": (0, 1, 0, 0, 0),
    "exp": (0, 0, 1, 0, 0), "log": (0, 0, 1, 0, 0), "tanh": (0, 0, 1, 0, 0), "sigmoid": (0, 0, 1, 0, 0),
    "erf": (0, 0, 1, 0, 0), "gelu": (0, 0, 1, 0, 0),
    "softmax": (3, 1, 1, 2, 0),        # max, sub, exp, sum, div
    "log_softmax": (3, 0, 1, 2, 1),    # max, sub, exp, sum; one log per row
    "reduce_sum": (1, 0, 0, 1, 0), "reduce_min": (1, 0, 0, 1, 0), "reduce_max": (1, 0, 0, 1, 0), "reduce_mean": (1, 0, 0, 1, 0),
    "gemm": (1, 0, 0, 0, 0), "transpose": (1, 0, 0, 0, 0), "reshape": (0, 0, 0, 0, 0),
    "mse_loss": (3, 0, 0, 1, 0), "cross_entropy_loss": (2, 0, 1, 1, 0), "binary_cross_entropy_loss": (4, 0, 2, 1, 0),
}

_erf = np.frompyfunc(math.erf, 1, 1)


def _erf32(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf(x.astype(np.float64)), np.float64)


def _apply(name: str, args: list[np.ndarray], attrs: dict[str, Any], shape: list[int]) -> np.ndarray:
    a = args[0] if args else None
    if name == "add":
        return args[0] + args[1]
    if name == "sub":
        return args[0] - args[1]
    if name == "mul":
        return args[0] * args[1]
    if name == "div":
        return args[0] / args[1]
    if name == "min":
        return np.where(args[0] < args[1], args[0], args[1])
    if name == "max":
        return np.where(args[0] > args[1], args[0], args[1])
    if name == "abs":
        return np.where(a < 0, -a, a)
    if name == "neg":
        return -a
    if name == "relu":
        return np.where(a > 0, a, 0.0)
    if name == "clip":
        return np.minimum(np.maximum(a, attrs["min"]), attrs["max"])
    if name == "fill":
        return np.full(shape, attrs["value"])
    if name == "add_scalar":
        return a + attrs["value"]
    if name == "mul_scalar":
        return a * attrs["value"]
    if name == "sqrt":
        return np.sqrt(a)
    if name == "exp":
        return np.exp(a)
    if name == "log":
        return np.log(a)
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "erf":
        return _erf32(a)
    if name == "gelu":
        return 0.5 * a * (1.0 + _erf32(a / math.sqrt(2.0)))
    if name in ("softmax", "log_softmax"):
        ax = attrs["axis"]
        shifted = a - a.max(axis=ax, keepdims=True)
        total = np.exp(shifted).sum(axis=ax, keepdims=True)
        return np.exp(shifted) / total if name == "softmax" else shifted - np.log(total)
    if name.startswith("reduce_"):
        fn = {"reduce_sum": np.sum, "reduce_min": np.min, "reduce_max": np.max, "reduce_mean": np.mean}[name]
        return fn(a, axis=tuple(attrs["axes"]), keepdims=bool(attrs.get("keepdims", False)))
    if name == "gemm":
        return np.matmul(args[0], args[1])
    if name == "transpose":
        return np.transpose(a, attrs["perm"]).copy()
    if name == "reshape":
        return a.reshape(shape).copy()
    if name == "mse_loss":
        return np.array(np.mean((args[0] - args[1]) ** 2))
    if name == "cross_entropy_loss":
        rows = a.size // a.shape[-1] if a.ndim else 1
        return np.array(-np.sum(args[1] * np.log(a)) / rows)
    if name == "binary_cross_entropy_loss":
        p, t = args
        return np.array(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    raise ValueError(f"reference interpreter: unknown op {name}")


def _rows(name: str, args: list[np.ndarray], result: np.ndarray, attrs: dict[str, Any]) -> int:
    if name in ("softmax", "log_softmax"):
        return args[0].size // args[0].shape[attrs["axis"]]
    if name.startswith("reduce_"):
        return result.size
    if name.endswith("_loss"):
        return 1
    return 0


def _work(name: str, args: list[np.ndarray], result: np.ndarray) -> int:
    if name == "gemm":
        return result.size * args[0].shape[-1]
    if name.startswith("reduce_") or name.endswith("_loss") or name in ("softmax", "log_softmax"):
        return args[0].size
    if name == "reshape":
        return 0
    return result.size


def run_reference(config: dict[str, Any], constants: dict[int, np.ndarray],
                  feeds: list[np.ndarray]) -> tuple[list[np.ndarray], dict[str, int]]:
    """Outputs of the segment (float32) and the counters {s, d, t, trees, ops}."""
    env: dict[int, np.ndarray] = {int(k): np.asarray(v, np.float32) for k, v in constants.items()}
    for vid, x in zip(config["inputs"], feeds):
        env[vid] = np.asarray(x, np.float32)
    counts = {"s": 0, "d": 0, "t": 0, "trees": 0, "ops": 0}
    with np.errstate(all="ignore"):
        for kern in config["kernels"]:
            for op in kern["ops"]:
                name, attrs = op["op"], op.get("attrs", {})
                args = [env[i] for i in op["in"]]
                shape = config["values"][op["out"]]["shape"]
                result = np.asarray(_apply(name, [x.astype(np.float64) if name in ("gelu", "erf") else x for x in args],
                                           attrs, shape), np.float32).reshape(shape)
                env[op["out"]] = result
                s, d, t, trees, row_t = _TABLE[name]
                work, rows = _work(name, args, result), _rows(name, args, result, attrs)
                counts["s"] += s * work
                counts["d"] += d * work
                counts["t"] += t * work + row_t * rows
                counts["trees"] += trees * rows
                counts["ops"] += 1
    return [env[v] for v in config["outputs"]], counts

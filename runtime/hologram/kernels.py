"""Fused kernels as programs of vectorised numpy steps over preallocated buffers.

`compile_step(op, values)` turns one op of a kernel ({op, in, out, attrs}, value ids) into
a closure `step(bufs)` that reads and writes `bufs[id]` in place (`out=`): no per-element
Python and no allocation per op for elementwise work. `work_rows(op, values)` gives the
elements the engine processes and the outputs its reduction trees produce, from the shapes;
the cost model prices them (`machine.kernel_cost`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError
from tsuc.runtime.hologram import fastmath

Step = Callable[[list], None]


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def work_rows(op: dict[str, Any], values: list[dict[str, Any]]) -> tuple[int, int]:
    name = op["op"]
    out_shape = values[op["out"]]["shape"]
    ins = [values[i]["shape"] for i in op["in"]]
    if name == "reshape":
        return 0, 0
    if name == "gemm":
        return _prod(out_shape) * int(ins[0][-1]), 0
    if name in ("softmax", "log_softmax"):
        axis = op["attrs"]["axis"] % max(len(ins[0]), 1)
        n = _prod(ins[0])
        return n, n // max(int(ins[0][axis]), 1) if ins[0] else 1
    if name.startswith("reduce_"):
        return _prod(ins[0]), _prod(out_shape)
    if name.endswith("_loss"):
        return _prod(ins[0]), 1
    return _prod(out_shape), 0


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "min": np.minimum, "max": np.maximum}
_UNARY = {"abs": np.abs, "neg": np.negative, "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "tanh": np.tanh,
          "sigmoid": fastmath.sigmoid, "erf": fastmath.erf}
_REDUCE = {"reduce_sum": np.add.reduce, "reduce_min": np.minimum.reduce, "reduce_max": np.maximum.reduce,
           "reduce_mean": np.add.reduce}


def _row_sum(shape, axis: int, keepdims: bool):
    """Sums along `axis` (kept as 1): a BLAS product with ones for the last axis."""
    if shape and axis == len(shape) - 1:
        ones = np.ones((shape[-1], 1), np.float32)
        return lambda x: np.matmul(x, ones)
    return lambda x: np.add.reduce(x, axis=axis, keepdims=keepdims)


def compile_step(op: dict[str, Any], values: list[dict[str, Any]], view_out: bool) -> Step:
    """A closure running `op`; `view_out`: its result is a view (reshape of an unplaced value)."""
    name, ins, o, attrs = op["op"], list(op["in"]), op["out"], op.get("attrs", {})
    if name in _BINARY:
        f = _BINARY[name]
        a, b = ins
        if name in ("min", "max"):  # numpy deprecates a positional out for these two
            return lambda bufs: f(bufs[a], bufs[b], out=bufs[o])
        return lambda bufs: f(bufs[a], bufs[b], bufs[o])
    if name in _UNARY:
        f = _UNARY[name]
        (a,) = ins
        if name in ("sigmoid", "erf"):
            return lambda bufs: f(bufs[a], bufs[o])
        return lambda bufs: f(bufs[a], bufs[o])
    if name == "relu":
        (a,) = ins
        zero = np.float32(0)
        return lambda bufs: np.maximum(bufs[a], zero, out=bufs[o])
    if name == "gelu":
        (a,) = ins
        return lambda bufs: fastmath.gelu(bufs[a], bufs[o])
    if name in ("add_scalar", "mul_scalar"):
        f = np.add if name == "add_scalar" else np.multiply
        v = np.float32(attrs["value"])
        (a,) = ins
        return lambda bufs: f(bufs[a], v, bufs[o])
    if name == "clip":
        lo, hi = np.float32(attrs["min"]), np.float32(attrs["max"])
        (a,) = ins
        return lambda bufs: np.clip(bufs[a], lo, hi, out=bufs[o])
    if name == "fill":
        v = np.float32(attrs["value"])
        return lambda bufs: bufs[o].fill(v)
    if name in ("softmax", "log_softmax"):
        (a,) = ins
        shape = values[a]["shape"]
        axis = int(attrs["axis"]) % max(len(shape), 1)
        log = name == "log_softmax"
        row_sum = _row_sum(shape, axis, keepdims=True)

        def softmax(bufs: list) -> None:
            # Softmax is invariant to the shift; the tensor's max (one contiguous reduction)
            # replaces the per-row max unless a row would lose precision (its sum < 1e-20).
            x, y = bufs[a], bufs[o]
            np.subtract(x, x.max(), y)
            e = np.exp(y) if log else np.exp(y, y)
            total = row_sum(e)
            if total.min() < 1e-20:
                np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True), y)
                e = np.exp(y) if log else np.exp(y, y)
                total = row_sum(e)
            if log:
                y -= np.log(total)
            else:
                y /= total
        return softmax
    if name in _REDUCE:
        f = _REDUCE[name]
        (a,) = ins
        axes = tuple(attrs["axes"])
        keep = bool(attrs.get("keepdims", False))
        shape = values[a]["shape"]
        rank = len(shape)
        if name in ("reduce_sum", "reduce_mean") and axes and axes == tuple(range(rank - len(axes), rank)):
            # trailing axes of a row-major array: one BLAS product with a ones vector
            lead = tuple(int(d) for d in shape[:rank - len(axes)])
            inner = _prod(shape[rank - len(axes):])
            w = np.full((inner,), 1.0 if name == "reduce_sum" else 1.0 / max(inner, 1), np.float32)

            def row_reduce(bufs: list) -> None:
                x = bufs[a]
                if not x.flags.c_contiguous:
                    x = np.ascontiguousarray(x)
                np.matmul(x.reshape(lead + (inner,)), w, out=bufs[o].reshape(lead))
            return row_reduce
        if name == "reduce_mean":
            inv = np.float32(1.0 / max(_prod(shape[k] for k in axes), 1))

            def mean(bufs: list) -> None:
                y = bufs[o]
                np.add.reduce(bufs[a], axis=axes, keepdims=keep, out=y)
                np.multiply(y, inv, y)
            return mean
        return lambda bufs: f(bufs[a], axis=axes, keepdims=keep, out=bufs[o])
    if name == "gemm":
        a, b = ins
        return lambda bufs: np.matmul(bufs[a], bufs[b], out=bufs[o])
    if name == "transpose":
        (a,) = ins
        perm = tuple(attrs["perm"])
        return lambda bufs: np.copyto(bufs[o], bufs[a].transpose(perm))
    if name == "reshape":
        (a,) = ins
        shape = tuple(values[o]["shape"])
        if view_out:
            def view(bufs: list) -> None:
                bufs[o] = bufs[a].reshape(shape)
            return view
        return lambda bufs: np.copyto(bufs[o], bufs[a].reshape(shape))
    if name == "mse_loss":
        a, t = ins

        def mse(bufs: list) -> None:
            d = bufs[a] - bufs[t]
            bufs[o][...] = np.mean(d * d)
        return mse
    if name == "cross_entropy_loss":
        a, t = ins
        shape = values[a]["shape"]
        rows = max(_prod(shape) // max(int(shape[-1]), 1), 1) if shape else 1

        def ce(bufs: list) -> None:
            bufs[o][...] = -np.sum(bufs[t] * np.log(bufs[a])) / rows
        return ce
    if name == "binary_cross_entropy_loss":
        a, t = ins

        def bce(bufs: list) -> None:
            p, y = bufs[a], bufs[t]
            bufs[o][...] = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
        return bce
    raise ArtifactError(f"hologram op {name!r} is unknown to this runtime")

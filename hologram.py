"""`tsuc.hologram`: the Hologram seed's Python API, over numpy arrays on a real class pool.

The seed (`hologram_ffi`, see ../shared/seeds/003_...) exposes executors, buffers and vector
operations through a Rust FFI that passes every buffer through JSON. The same names work
here, on numpy arrays that are views into one 64-byte aligned 96-class pool per executor:

    import tsuc.hologram as hg
    ex = hg.new_executor()
    a, b, c = (hg.executor_allocate_buffer(ex, 1000) for _ in range(3))
    hg.buffer_copy_from_slice(ex, a, np.arange(1000, dtype=np.float32))   # or a list, a torch tensor, a JSON string
    hg.buffer_copy_from_slice(ex, b, "[1.0, 2.0, ...]")
    hg.vector_add_f32(ex, a, b, c, 1000)
    y = hg.buffer_to_vec(ex, c)                                             # numpy; as_json=True for the old string
    hg.buffer_cleanup(c); hg.executor_cleanup(ex)

Quirks of the prototype fixed here (each function's docstring names its own):
- buffers go through JSON: here numpy in and out (torch through DLPack, no copy), JSON
  strings still accepted (`buffer_copy_from_slice`) or produced (`buffer_to_vec(as_json=True)`);
- an executor allocates the next class for every buffer and never frees one (96 buffers per
  executor): here a buffer takes a run of free classes (freed ones are reused), and one that
  finds no run lives in the linear pool (counted in `executor_stats` as spill);
- `gemm_f32`'s FFI passes (m, n, k) into a core gemm(m, k, n), so its 5th argument acts as K
  and its 6th as N: here m, n, k mean A[m x k] @ B[k x n] -> C[m x n], and the buffer sizes
  are checked, so a call in the prototype's order fails loudly unless the shapes are square;
- reductions and losses need an output buffer of at least 3 elements: here 1 is enough, and
  the value is also returned;
- no cycle model: every call here is priced by the engine's cost model
  (`tsuc.runtime.hologram.machine`), and `executor_stats` sums it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.hologram import fastmath
from tsuc.runtime.hologram.machine import (
    CLASS_BYTES,
    NUM_CLASSES,
    Machine,
    kernel_cost,
    op_counts,
)
from tsuc.runtime.hologram.pool import Pool


@dataclass
class _Buffer:
    executor: int
    size: int
    first: int | None  # first class, None when in the linear pool
    count: int
    data: np.ndarray


@dataclass
class _Executor:
    machine: Machine
    pool: Pool = field(default_factory=Pool)
    free: list[bool] = field(default_factory=lambda: [True] * NUM_CLASSES)
    buffers: set[int] = field(default_factory=set)
    stats: dict[str, float] = field(default_factory=lambda: {"calls": 0, "cycles": 0, "energy_j": 0.0, "lane_ops": 0,
                                                             "spill_bytes": 0, "buffers_allocated": 0})


_EXECUTORS: dict[int, _Executor] = {}
_BUFFERS: dict[int, _Buffer] = {}
_NEXT = {"executor": 1, "buffer": 1}


def _executor(handle: int) -> _Executor:
    ex = _EXECUTORS.get(handle)
    if ex is None:
        raise TsucError(f"hologram executor {handle} does not exist (cleaned up, or never created)")
    return ex


def _buffer(ex_handle: int, handle: int) -> _Buffer:
    buf = _BUFFERS.get(handle)
    if buf is None or buf.executor != ex_handle:
        raise TsucError(f"hologram buffer {handle} does not belong to executor {ex_handle}")
    return buf


def new_executor(**machine: Any) -> int:
    """A new executor with its own class pool; keyword arguments override cost-model constants.

    Prototype quirk fixed: executors were limited to 96 buffers over their life."""
    h = _NEXT["executor"]
    _NEXT["executor"] += 1
    _EXECUTORS[h] = _Executor(Machine(**machine))
    return h


def executor_allocate_buffer(executor: int, size: int) -> int:
    """A buffer of `size` f32 elements: a run of free classes, else the linear pool.

    Prototype quirk fixed: it took the next class for every buffer and never gave one back."""
    ex = _executor(executor)
    if size < 1:
        raise TsucError(f"a hologram buffer needs at least one element, got {size}")
    need = -(-size * 4 // CLASS_BYTES)
    first = None
    run = 0
    for c, f in enumerate(ex.free):
        run = run + 1 if f else 0
        if run == need:
            first = c - need + 1
            break
    if first is not None:
        for c in range(first, first + need):
            ex.free[c] = False
        data = ex.pool.view(["class", first, need], [need * CLASS_BYTES // 4])[:size]
    else:
        data = np.zeros(size, np.float32)
        ex.stats["spill_bytes"] += 4 * size
    h = _NEXT["buffer"]
    _NEXT["buffer"] += 1
    _BUFFERS[h] = _Buffer(executor, size, first, need, data)
    ex.buffers.add(h)
    ex.stats["buffers_allocated"] += 1
    return h


def buffer_copy_from_slice(executor: int, buffer: int, data: Any) -> None:
    """Copy `data` (numpy array, list, torch tensor, or a JSON list string) into the buffer.

    Prototype quirk fixed: only JSON strings were accepted, parsed element by element."""
    buf = _buffer(executor, buffer)
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise TsucError("buffer_copy_from_slice: the string is not a JSON list of numbers") from None
    if type(data).__module__.startswith("torch"):
        data = np.from_dlpack(data.detach().cpu().contiguous())
    arr = np.asarray(data, dtype=np.float32).reshape(-1)
    if arr.size > buf.size:
        raise TsucError(f"buffer_copy_from_slice: {arr.size} values do not fit buffer {buffer} of {buf.size}")
    buf.data[:arr.size] = arr


def buffer_view(executor: int, buffer: int) -> np.ndarray:
    """The buffer itself: a float32 view into the executor's pool (writes go to the pool)."""
    return _buffer(executor, buffer).data


def buffer_to_vec(executor: int, buffer: int, as_json: bool = False) -> Any:
    """The buffer's values as a new numpy array (or, `as_json=True`, the prototype's JSON string).

    Prototype quirk fixed: results came back only as JSON text."""
    data = _buffer(executor, buffer).data.copy()
    return json.dumps(data.tolist()) if as_json else data


def buffer_cleanup(buffer: int) -> None:
    """Free a buffer; its classes go back to its executor's free list."""
    buf = _BUFFERS.pop(buffer, None)
    if buf is None:
        return
    ex = _EXECUTORS.get(buf.executor)
    if ex is not None:
        ex.buffers.discard(buffer)
        if buf.first is not None:
            for c in range(buf.first, buf.first + buf.count):
                ex.free[c] = True


def executor_cleanup(executor: int) -> None:
    """Free an executor, its pool and every buffer still allocated on it."""
    ex = _EXECUTORS.pop(executor, None)
    if ex is not None:
        for h in list(ex.buffers):
            _BUFFERS.pop(h, None)


def executor_stats(executor: int) -> dict[str, float]:
    """Calls, modelled cycles and energy, lane-ops, spill bytes and classes in use."""
    ex = _executor(executor)
    return dict(ex.stats, classes_in_use=NUM_CLASSES - sum(ex.free))


def _charge(ex: _Executor, op: str, work: int, rows: int = 0) -> None:
    cost = kernel_cost(ex.machine, [{"op": op, "work": work, "rows": rows}], 0)
    c = op_counts(op, work, rows)
    ex.stats["calls"] += 1
    ex.stats["cycles"] += cost["cycles"]
    ex.stats["energy_j"] += cost["energy_j"]
    ex.stats["lane_ops"] += c["s"] + c["d"] + c["t"]


def _views(executor: int, n: int, *buffers: int) -> list[np.ndarray]:
    out = []
    for h in buffers:
        buf = _buffer(executor, h)
        if n > buf.size:
            raise TsucError(f"length {n} exceeds buffer {h} of {buf.size} elements")
        out.append(buf.data[:n])
    return out


def _binary(name: str, fn):
    def op(executor: int, a: int, b: int, c: int, n: int) -> None:
        x, y, z = _views(executor, n, a, b, c)
        fn(x, y, out=z)
        _charge(_executor(executor), name, n)
    op.__name__ = f"vector_{name}_f32"
    op.__doc__ = f"c[:n] = {name}(a[:n], b[:n]) elementwise, in place in the pool (no JSON round trip)."
    return op


def _unary(name: str, fn, public: str):
    def op(executor: int, a: int, c: int, n: int) -> None:
        x, z = _views(executor, n, a, c)
        fn(x, z)
        _charge(_executor(executor), name, n)
    op.__name__ = public
    op.__doc__ = f"c[:n] = {name}(a[:n]) elementwise, in place in the pool (no JSON round trip)."
    return op


vector_add_f32 = _binary("add", np.add)
vector_sub_f32 = _binary("sub", np.subtract)
vector_mul_f32 = _binary("mul", np.multiply)
vector_div_f32 = _binary("div", np.divide)
vector_min_f32 = _binary("min", np.minimum)
vector_max_f32 = _binary("max", np.maximum)
vector_abs_f32 = _unary("abs", lambda x, z: np.abs(x, out=z), "vector_abs_f32")
vector_neg_f32 = _unary("neg", lambda x, z: np.negative(x, out=z), "vector_neg_f32")
vector_relu_f32 = _unary("relu", lambda x, z: np.maximum(x, np.float32(0), out=z), "vector_relu_f32")
sigmoid_f32 = _unary("sigmoid", fastmath.sigmoid, "sigmoid_f32")
tanh_f32 = _unary("tanh", lambda x, z: np.tanh(x, out=z), "tanh_f32")
gelu_f32 = _unary("gelu", fastmath.gelu, "gelu_f32")


def vector_clip_f32(executor: int, a: int, c: int, n: int, lo: float, hi: float) -> None:
    """c[:n] = min(max(a[:n], lo), hi)."""
    if lo > hi:
        raise TsucError(f"vector_clip_f32: lo {lo} > hi {hi}")
    x, z = _views(executor, n, a, c)
    np.clip(x, np.float32(lo), np.float32(hi), out=z)
    _charge(_executor(executor), "clip", n)


def scalar_add_f32(executor: int, a: int, c: int, n: int, value: float) -> None:
    """c[:n] = a[:n] + value."""
    x, z = _views(executor, n, a, c)
    np.add(x, np.float32(value), out=z)
    _charge(_executor(executor), "add_scalar", n)


def scalar_mul_f32(executor: int, a: int, c: int, n: int, value: float) -> None:
    """c[:n] = a[:n] * value."""
    x, z = _views(executor, n, a, c)
    np.multiply(x, np.float32(value), out=z)
    _charge(_executor(executor), "mul_scalar", n)


def softmax_f32(executor: int, a: int, c: int, n: int) -> None:
    """c[:n] = softmax(a[:n]) (max-shifted, so large inputs do not overflow)."""
    x, z = _views(executor, n, a, c)
    np.subtract(x, x.max(), out=z)
    np.exp(z, out=z)
    z /= z.sum()
    _charge(_executor(executor), "softmax", n, 1)


def _reduction(name: str, fn):
    def op(executor: int, a: int, out: int, n: int) -> float:
        (x,) = _views(executor, n, a)
        (o,) = _views(executor, 1, out)
        o[0] = fn(x)
        _charge(_executor(executor), name, n, 1)
        return float(o[0])
    op.__name__ = f"{name}_f32"
    op.__doc__ = (f"out[0] = {name.split('_')[1]}(a[:n]); also returned. "
                  "Prototype quirk fixed: the output buffer needed at least 3 elements; 1 is enough.")
    return op


reduce_sum_f32 = _reduction("reduce_sum", np.sum)
reduce_min_f32 = _reduction("reduce_min", np.min)
reduce_max_f32 = _reduction("reduce_max", np.max)


def _loss(name: str, fn):
    def op(executor: int, pred: int, target: int, out: int, n: int) -> float:
        p, t = _views(executor, n, pred, target)
        (o,) = _views(executor, 1, out)
        with np.errstate(divide="ignore", invalid="ignore"):
            o[0] = fn(p.astype(np.float64), t.astype(np.float64))
        _charge(_executor(executor), name, n, 1)
        return float(o[0])
    op.__name__ = f"{name}_f32"
    op.__doc__ = "Loss of pred[:n] against target[:n] into out[0], also returned. Prototype quirk fixed: out needed 3 elements."
    return op


mse_loss_f32 = _loss("mse_loss", lambda p, t: np.mean((p - t) ** 2))
cross_entropy_loss_f32 = _loss("cross_entropy_loss", lambda p, t: -np.sum(t * np.log(p)))
binary_cross_entropy_loss_f32 = _loss("binary_cross_entropy_loss", lambda p, t: -np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))


def gemm_f32(executor: int, a: int, b: int, c: int, m: int, n: int, k: int) -> None:
    """C[m x n] = A[m x k] @ B[k x n], all row-major.

    Prototype quirk fixed: its FFI passed (m, n, k) into a core gemm(m, k, n), so the 5th
    argument acted as K and the 6th as N. Here each name means what it says, and the buffer
    sizes are checked, so a call written for the prototype's order fails unless square."""
    if min(m, n, k) < 1:
        raise TsucError(f"gemm_f32: m, n, k must be positive, got {m}, {n}, {k}")
    bufs = [_buffer(executor, h) for h in (a, b, c)]
    for name, buf, need in zip("ABC", bufs, (m * k, k * n, m * n)):
        if buf.size < need:
            raise TsucError(f"gemm_f32: {name} needs {need} elements for m={m}, n={n}, k={k} but its buffer has {buf.size} "
                            "(the prototype's order was (m, k, n); tsuc's is (m, n, k) as named)")
    A = bufs[0].data[:m * k].reshape(m, k)
    B = bufs[1].data[:k * n].reshape(k, n)
    np.matmul(A, B, out=bufs[2].data[:m * n].reshape(m, n))
    _charge(_executor(executor), "gemm", m * n * k)


def matvec_f32(executor: int, a: int, x: int, y: int, m: int, n: int) -> None:
    """y[m] = A[m x n] @ x[n], row-major."""
    (A,) = _views(executor, m * n, a)
    xv, = _views(executor, n, x)
    yv, = _views(executor, m, y)
    np.matmul(A.reshape(m, n), xv, out=yv)
    _charge(_executor(executor), "gemm", m * n)


__all__ = [name for name in dir() if name.endswith("_f32")] + [
    "new_executor", "executor_allocate_buffer", "buffer_copy_from_slice", "buffer_to_vec", "buffer_view",
    "buffer_cleanup", "executor_cleanup", "executor_stats"]

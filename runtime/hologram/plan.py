"""From a kernel's op list (as stored in the artifact) to the programs of the compiled interpreter.

`split(ops, values)` cuts a segment's ops into steps: maximal runs of elementwise ops over
one output shape become a `Group` (one pass of `compiled.run_chain`), every other op
(gemm, softmax, reductions, transposes, reshapes, losses) stays a step of its own. A group
value is materialised (STORE) only when something outside the group reads it or it is a
segment output; the rest live in the interpreter's registers, allocated here by liveness
over the group's instruction list (a result never overwrites its operands' registers, so
every loop vectorises).

Operands from outside the group are described against the group's iteration space: the
output shape with its size-1 dimensions dropped and adjacent dimensions merged wherever
every operand's strides allow (numpy's coalescing), so a per-column constant over
[64, 256] is one strided operand over 64 rows and a per-channel one over [2, 16, 16, 16]
a broadcast scalar per row of 256. Shapes are static, so all this happens once at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsuc.runtime.hologram.compiled import (
    CONTIGUOUS,
    ELEMENTWISE,
    LOAD,
    MAXD,
    OPCODE,
    SCALAR,
    STORE,
    STRIDED,
    TAB_COLS,
)


def _c_strides(shape) -> list[int]:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= int(d)
    return st[::-1]


def broadcast_strides(shape, out_shape) -> list[int]:
    """Element strides of a C-contiguous array of `shape` read at each index of `out_shape`
    (numpy broadcasting: aligned on the right, size-1 and missing dimensions stride 0)."""
    st = _c_strides(shape)
    lead = len(out_shape) - len(shape)
    out = []
    for i, n in enumerate(out_shape):
        j = i - lead
        out.append(st[j] if j >= 0 and int(shape[j]) == int(n) and int(n) != 1 else 0)
    return out


def coalesce(out_shape, strides: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dimensions and merge adjacent ones where every stride list allows."""
    dims = [i for i, n in enumerate(out_shape) if int(n) != 1]
    shape = [int(out_shape[i]) for i in dims]
    sts = [[s[i] for i in dims] for s in strides]
    k = len(shape) - 2
    while k >= 0:
        if all(s[k] == s[k + 1] * shape[k + 1] for s in sts):
            shape[k] *= shape[k + 1]
            del shape[k + 1]
            for s in sts:
                s[k] = s[k + 1]  # the merged dimension steps like its inner half
                del s[k + 1]
        k -= 1
    return shape, sts


@dataclass
class Group:
    """A run of elementwise ops over one output shape, and its compiled program."""

    shape: list[int]
    ops: list[dict[str, Any]] = field(default_factory=list)
    produced: set[int] = field(default_factory=set)
    # filled by `program`
    code: np.ndarray | None = None
    fp: np.ndarray | None = None
    operands: list[tuple[int, str]] = field(default_factory=list)  # (value id, "load" | "store"), one per table row
    gshape: np.ndarray | None = None
    nd: int = 0
    strides: list[list[int]] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    nslots: int = 0
    total: int = 0


def split(ops: list[dict[str, Any]], values: list[dict[str, Any]]) -> list[Any]:
    """The segment's ops as a list of steps: `Group`s and single ops (dicts), in order."""
    steps: list[Any] = []
    cur: Group | None = None
    for op in ops:
        if op["op"] in ELEMENTWISE:
            shape = list(values[op["out"]]["shape"])
            if cur is None or cur.shape != shape:
                cur = Group(shape)
                steps.append(cur)
            cur.ops.append(op)
            cur.produced.add(op["out"])
        else:
            cur = None
            steps.append(op)
    return steps


def program(group: Group, values: list[dict[str, Any]], stored: set[int]) -> None:
    """Instruction list, operand table and register count of `group`; `stored`: its values
    that must reach memory (read after the group, or segment outputs)."""
    ops = group.ops
    last_use: dict[int, int] = {}
    for t, op in enumerate(ops):
        for i in op["in"]:
            last_use[i] = t
    free: list[int] = []
    nslots = 0
    reg: dict[int, int] = {}
    code: list[tuple[int, int, int, int]] = []
    fp: list[tuple[float, float]] = []
    operands: list[tuple[int, str]] = []

    def take() -> int:
        nonlocal nslots
        if free:
            return free.pop()
        nslots += 1
        return nslots - 1

    for t, op in enumerate(ops):
        for i in op["in"]:
            if i not in reg:  # an operand from outside the group: LOAD at first use
                reg[i] = take()
                operands.append((i, "load"))
                code.append((LOAD, reg[i], 0, len(operands) - 1))
                fp.append((0.0, 0.0))
        srcs = [reg[i] for i in op["in"]] + [0, 0]
        # the result never takes an operand's register: LLVM vectorises a loop whose output may
        # alias an input only behind a run-time overlap check, and an exact overlap fails it
        dst = take()
        reg[op["out"]] = dst
        for i in dict.fromkeys(op["in"]):
            if last_use[i] == t:
                free.append(reg.pop(i))
        free.sort(reverse=True)  # lowest register first: deterministic and compact
        attrs = op.get("attrs", {})
        name = op["op"]
        if name == "clip":
            consts = (float(attrs["min"]), float(attrs["max"]))
        elif name in ("fill", "add_scalar", "mul_scalar"):
            consts = (float(attrs["value"]), 0.0)
        else:
            consts = (0.0, 0.0)
        code.append((OPCODE[name], dst, srcs[0], srcs[1]))
        fp.append(consts)
        if op["out"] in stored:
            operands.append((op["out"], "store"))
            code.append((STORE, 0, dst, len(operands) - 1))
            fp.append((0.0, 0.0))
        if op["out"] not in last_use or last_use[op["out"]] <= t:  # never read again inside the group
            free.append(reg.pop(op["out"]))
            free.sort(reverse=True)
    out_shape = group.shape
    strides = [broadcast_strides(values[v]["shape"], out_shape) if kind == "load" else _c_strides(out_shape)
               for v, kind in operands]
    _finish(group, operands, strides, code, fp, nslots)


def move(op: dict[str, Any], values: list[dict[str, Any]]) -> Group:
    """A transpose, or a reshape into a buffer of its own, as a group: one strided LOAD, one STORE."""
    (a,), o = op["in"], op["out"]
    out_shape, src_shape = list(values[o]["shape"]), list(values[a]["shape"])
    if op["op"] == "transpose":
        cs = _c_strides(src_shape)
        src = [cs[p] if int(src_shape[p]) != 1 else 0 for p in op["attrs"]["perm"]]
    else:  # a reshape keeps the flat order
        src = _c_strides(out_shape)
    g = Group(out_shape, ops=[op], produced={o})
    _finish(g, [(a, "load"), (o, "store")], [src, _c_strides(out_shape)],
            [(LOAD, 0, 0, 0), (STORE, 0, 0, 1)], [(0.0, 0.0), (0.0, 0.0)], 1)
    return g


def _finish(group: Group, operands, strides, code, fp, nslots: int) -> None:
    out_shape = group.shape
    shape, sts = coalesce(out_shape, strides)
    if not shape:  # a single element
        shape, sts = [1], [[0] for _ in sts]
    full = _c_strides(shape)
    kinds = []
    for (v, kind), s in zip(operands, sts):
        if kind == "store" or s == full:
            kinds.append(CONTIGUOUS)
        elif not any(s):
            kinds.append(SCALAR)
        else:
            kinds.append(STRIDED)
    group.code = np.array(code, np.int32).reshape(-1, 4)
    group.fp = np.array(fp, np.float32).reshape(-1, 2)
    group.operands = list(operands)
    group.gshape = np.zeros(MAXD, np.int64)
    group.nd = len(shape)
    group.strides = sts
    group.kinds = kinds
    group.nslots = max(nslots, 1)
    group.total = int(np.prod(out_shape, dtype=np.int64))
    if group.nd <= MAXD:
        group.gshape[:group.nd] = shape


def reduce_dims(shape, axes) -> tuple[int, int, int] | None:
    """(outer, reduced, inner) when the reduced axes, size-1 axes aside, are one contiguous run."""
    rank = len(shape)
    axes = sorted({int(a) % max(rank, 1) for a in axes})
    red = [a for a in axes if int(shape[a]) != 1]
    if not red:
        return _prod(shape), 1, 1
    lo, hi = red[0], red[-1]
    if any(int(shape[a]) != 1 and a not in axes for a in range(lo, hi + 1)):
        return None
    return _prod(shape[:lo]), _prod(shape[lo:hi + 1]), _prod(shape[hi + 1:])


def gemm_dims(a_shape, b_shape) -> tuple[int, int, int, int, int, int] | None:
    """(batch, M, K, N, batch stride of A, of B) for numpy matmul as BLAS products, or None."""
    a_shape, b_shape = [int(d) for d in a_shape], [int(d) for d in b_shape]
    if len(b_shape) == 1:  # matvec: every row of A against b
        k = b_shape[0]
        return 1, _prod(a_shape[:-1]), k, 1, 0, 0
    k, n = b_shape[-2], b_shape[-1]
    if len(a_shape) == 1:
        return _prod(b_shape[:-2]), 1, k, n, 0, k * n
    m = a_shape[-2]
    if len(b_shape) == 2:  # the rows of every batch of A in one product
        return 1, _prod(a_shape[:-1]), k, n, 0, 0
    if len(a_shape) == 2:
        return _prod(b_shape[:-2]), m, k, n, 0, k * n
    if a_shape[:-2] == b_shape[:-2]:
        return _prod(a_shape[:-2]), m, k, n, m * k, k * n
    return None


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def table(group: Group, addresses: list[tuple[int, int]]) -> np.ndarray:
    """The operand table: per operand its base id, offset (elements), kind and strides."""
    tab = np.zeros((len(group.operands), TAB_COLS), np.int64)
    for k, ((bid, off), kind, st) in enumerate(zip(addresses, group.kinds, group.strides)):
        tab[k, 0], tab[k, 1], tab[k, 2] = bid, off, kind
        tab[k, 3:3 + len(st)] = st
    return tab

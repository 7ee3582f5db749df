"""Data movement: Reshape/Flatten/Squeeze/Unsqueeze, Transpose, Concat, Slice, Split, Gather, Pad,
Expand, Tile, and the static-shape ops Shape, Size, ConstantOfShape.

Every shape here is static, so what ONNX computes from shape tensors at run time is known at
compile time: reshapes take the result type, Slice/Split/Pad need constant parameters (else
the op stays on the host with that reason).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, DenseResourceAttr, TensorType
from xdsl.ir import Operation, SSAValue

from tsuc.compiler.blobs import attr_value
from tsuc.dialects import hlo
from tsuc.targets.xla.builder import HloBuilder, const_value
from tsuc.targets.xla.patterns.base import OnnxToHlo, attr, inp, out_elem, out_shape


class LowerReshape(OnnxToHlo):
    op_types = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.reshape(inp(op, 0), out_shape(op))]


class LowerTranspose(OnnxToHlo):
    op_types = ("Transpose",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        rank = len(hlo.shape(x))
        return [b.transpose(x, attr(op, "perm", list(range(rank))[::-1]))]


class LowerConcat(OnnxToHlo):
    op_types = ("Concat",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        values = [v for v in inp(op, 0) if 0 not in hlo.shape(v)]
        axis = attr(op, "axis") % len(out_shape(op))
        if len(values) == 1:
            return [values[0]]
        return [b.add(hlo.ConcatenateOp(values, axis))]


def _consts(op: Operation, ks) -> list[np.ndarray | None] | None:
    """Constant values of inputs `ks` (None entries for absent inputs); None if one is not constant."""
    out = []
    for k in ks:
        v = inp(op, k) if k < len(op.ONNX_OPERANDS) else None  # type: ignore[attr-defined]
        if v is None:
            out.append(None)
            continue
        c = const_value(v)
        if c is None:
            return None
        out.append(c)
    return out


class LowerSlice(OnnxToHlo):
    op_types = ("Slice",)

    def _params(self, op: Operation):
        consts = _consts(op, [1, 2, 3, 4])
        if consts is None:
            return None
        starts, ends, axes, steps = consts
        shape = hlo.shape(inp(op, 0))
        rank = len(shape)
        axes = [int(a) % rank for a in (axes if axes is not None else range(len(starts)))]  # type: ignore[arg-type]
        steps = [int(s) for s in (steps if steps is not None else [1] * len(axes))]
        lo, hi, st = [0] * rank, list(shape), [1] * rank
        for a, s, e, step in zip(axes, starts, ends, steps):  # type: ignore[arg-type]
            if step < 1:
                return None
            lo[a], hi[a], _ = slice(int(s), int(e), step).indices(shape[a])
            hi[a] = max(hi[a], lo[a])
            st[a] = step
        return lo, hi, st

    def check(self, op: Operation) -> str | None:
        if self._params(op) is None:
            return "its bounds are not constants or a step is negative"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        lo, hi, st = self._params(op)  # type: ignore[misc]
        return [b.add(hlo.SliceOp(inp(op, 0), lo, hi, st))]


class LowerSplit(OnnxToHlo):
    op_types = ("Split",)

    def check(self, op: Operation) -> str | None:
        if inp(op, 1) is not None and const_value(inp(op, 1)) is None:
            return "its split sizes are computed at run time"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        shape = hlo.shape(x)
        axis = attr(op, "axis", 0) % len(shape)
        outs = []
        start = 0
        for r in op.results:
            size = hlo.shape(r)[axis]
            lo, hi = [0] * len(shape), list(shape)
            lo[axis], hi[axis] = start, start + size
            outs.append(b.add(hlo.SliceOp(x, lo, hi, [1] * len(shape))))
            start += size
        return outs


class LowerGather(OnnxToHlo):
    op_types = ("Gather",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, idx = inp(op, 0), inp(op, 1)
        sx = hlo.shape(x)
        axis = attr(op, "axis", 0) % len(sx)
        values = const_value(idx)
        if values is not None:  # negative indices resolved now
            idx = b.constant(np.where(values < 0, values + sx[axis], values).astype(values.dtype), hlo.elem(idx))
        else:
            zero = b.splat(0, hlo.elem(idx), hlo.shape(idx))
            wrapped = b.binary("add", idx, b.splat(sx[axis], hlo.elem(idx), hlo.shape(idx)))
            idx = b.select(b.compare("LT", idx, zero), wrapped, idx)
        si = hlo.shape(idx)
        idx = b.reshape(idx, si + (1,))
        sizes = list(sx)
        sizes[axis] = 1
        offset = list(range(axis)) + list(range(axis + len(si), len(sx) - 1 + len(si)))
        g = hlo.GatherOp.create(
            operands=[x, idx], result_types=[TensorType(out_elem(op), list(out_shape(op)))],
            properties={"offset_dims": hlo.dense_i64(offset), "collapsed_slice_dims": hlo.dense_i64([axis]),
                        "start_index_map": hlo.dense_i64([axis]),
                        "index_vector_dim": _i64(len(si)), "slice_sizes": hlo.dense_i64(sizes)})
        return [b.add(g)]


def _i64(v: int):
    from xdsl.dialects.builtin import IntegerAttr, i64

    return IntegerAttr(v, i64)


class LowerPad(OnnxToHlo):
    op_types = ("Pad",)

    """constant mode is one `pad`; reflect, edge and wrap are slices (reversed for reflect)
    concatenated around the input, one axis at a time."""

    def _pads(self, op: Operation):
        consts = _consts(op, [1, 3])
        if consts is None:
            return None
        pads, axes = consts
        rank = len(hlo.shape(inp(op, 0)))
        axes = [int(a) % rank for a in axes] if axes is not None else list(range(rank))
        lo, hi = [0] * rank, [0] * rank
        n = len(axes)
        for k, a in enumerate(axes):
            lo[a], hi[a] = int(pads[k]), int(pads[n + k])  # type: ignore[index]
        return lo, hi

    def check(self, op: Operation) -> str | None:
        pads = self._pads(op)
        if pads is None:
            return "its pads or axes are computed at run time"
        mode = attr(op, "mode", "constant")
        if mode != "constant":
            shape = hlo.shape(inp(op, 0))
            if any(p < 0 for p in pads[0] + pads[1]):
                return f"negative pads in {mode} mode"
            limit = (lambda n: n - 1) if mode == "reflect" else (lambda n: n if mode == "wrap" else 1 << 62)
            if any(max(lo, hi) > limit(n) for lo, hi, n in zip(*pads, shape)):
                return f"pads wider than the input in {mode} mode"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        lo, hi = self._pads(op)  # type: ignore[misc]
        mode = attr(op, "mode", "constant")
        if mode == "constant":
            value = inp(op, 2)
            pv = b.reshape(value, ()) if value is not None else b.constant(0, hlo.elem(x))
            return [b.add(hlo.PadOp(x, pv, lo, hi))]
        for axis, (l, h) in enumerate(zip(lo, hi)):
            if l == 0 and h == 0:
                continue
            n = hlo.shape(x)[axis]
            parts = []
            if l:
                parts.append(self._edge(b, x, axis, n, l, before=True, mode=mode))
            parts.append(x)
            if h:
                parts.append(self._edge(b, x, axis, n, h, before=False, mode=mode))
            x = b.add(hlo.ConcatenateOp(parts, axis))
        return [x]

    @staticmethod
    def _edge(b: HloBuilder, x: SSAValue, axis: int, n: int, width: int, before: bool, mode: str) -> SSAValue:
        shape = hlo.shape(x)
        def cut(start: int, stop: int) -> SSAValue:
            lo_, hi_ = [0] * len(shape), list(shape)
            lo_[axis], hi_[axis] = start, stop
            return b.add(hlo.SliceOp(x, lo_, hi_, [1] * len(shape)))
        if mode == "reflect":
            piece = cut(1, width + 1) if before else cut(n - 1 - width, n - 1)
            return b.add(hlo.ReverseOp(piece, [axis]))
        if mode == "wrap":
            return cut(n - width, n) if before else cut(0, width)
        row = cut(0, 1) if before else cut(n - 1, n)  # edge: repeat the border
        target = list(shape)
        target[axis] = width
        return b.add(hlo.BroadcastInDimOp(row, list(range(len(shape))), TensorType(hlo.elem(x), target)))


class LowerExpand(OnnxToHlo):
    op_types = ("Expand",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.broadcast_to(inp(op, 0), out_shape(op))]


class LowerTile(OnnxToHlo):
    op_types = ("Tile",)

    def check(self, op: Operation) -> str | None:
        if 0 in hlo.shape(inp(op, 0)):
            return "an empty input"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        sx, out = hlo.shape(x), out_shape(op)
        reps = [o // s for o, s in zip(out, sx)]
        inter = [v for r, s in zip(reps, sx) for v in (r, s)]
        y = b.add(hlo.BroadcastInDimOp(x, list(range(1, 2 * len(sx), 2)), TensorType(hlo.elem(x), inter)))
        return [b.reshape(y, out)]


class LowerStaticShape(OnnxToHlo):
    """Shape, Size and ConstantOfShape: with static shapes these are constants."""

    op_types = ("Shape", "Size", "ConstantOfShape")

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        t, el = op.ONNX_OP_TYPE, out_elem(op)  # type: ignore[attr-defined]
        if t == "ConstantOfShape":
            value = op.attributes.get("value")
            arr = attr_value(value, b.store) if isinstance(value, (DenseIntOrFPElementsAttr, DenseResourceAttr)) else None
            fill = arr.reshape(-1)[0].item() if arr is not None and arr.size else 0
            return [b.splat(fill, el, out_shape(op))]
        shape = hlo.shape(inp(op, 0))
        if t == "Size":
            return [b.constant(np.array(int(np.prod(shape)), dtype=np.int64), el)]
        start, end = attr(op, "start", 0), attr(op, "end", None)
        return [b.constant(np.array(shape[slice(start, end)], dtype=np.int64), el)]


PATTERNS = (LowerReshape, LowerTranspose, LowerConcat, LowerSlice, LowerSplit, LowerGather, LowerPad, LowerExpand, LowerTile,
            LowerStaticShape)

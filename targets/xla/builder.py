"""A small op builder for the onnx -> hlo patterns: constants, numpy-style broadcasting, reductions.

Each pattern creates a `HloBuilder`, adds the hlo ops one ONNX op becomes, and hands
`builder.ops` to the rewriter. Small constants (scalars, index vectors) are inline `dense<...>`;
arrays computed from weights at compile time (a folded batch-norm scale) go to the blob store
and are referred to by handle, like every other weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Attribute, Operation, OpResult, SSAValue

from tsuc.compiler.blobs import BlobStore, attr_value, blob_store, module_of
from tsuc.compiler.types import numpy_dtype
from tsuc.dialects import hlo

INLINE_LIMIT = 16
"""Constants with more elements than this go to the blob store rather than inline."""


def is_float(ty: Attribute) -> bool:
    return isinstance(ty, (Float16Type, Float32Type, Float64Type))


def const_value(value: SSAValue) -> np.ndarray | None:
    """The array behind `value` if an `onnx.Constant` or `hlo.constant` defines it (else None)."""
    if not isinstance(value, OpResult):
        return None
    owner = value.owner
    if owner.name == "onnx.Constant":
        attr = owner.attributes.get("value")
    elif isinstance(owner, hlo.ConstantOp):
        attr = owner.value
    else:
        return None
    if attr is None:
        return None
    module = module_of(owner)
    return attr_value(attr, blob_store(module) if module is not None else None)


class HloBuilder:
    """Collects the hlo ops that replace one ONNX op."""

    def __init__(self, store: BlobStore | None = None, hint: str = "c") -> None:
        self.ops: list[Operation] = []
        self.store = store
        self.hint = hint

    def add(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0]

    # -- constants ---------------------------------------------------------------------------

    def constant(self, array: np.ndarray | float, element: Attribute) -> SSAValue:
        arr = np.asarray(array, dtype=numpy_dtype(element) if not _is_bool(element) else np.bool_)
        ty = TensorType(element, list(arr.shape))
        if arr.size > INLINE_LIMIT and self.store is not None:
            handle = self.store.add(np.ascontiguousarray(arr), self.hint)
            return self.add(hlo.ConstantOp(DenseResourceAttr.from_params(handle, ty)))
        values = arr.reshape(-1).tolist()
        if _is_bool(element):
            values = [int(v) for v in values]
        return self.add(hlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(ty, values)))

    def splat(self, value: float, element: Attribute, shape: Sequence[int]) -> SSAValue:
        scalar = self.constant(value, element)
        return self.broadcast_to(scalar, shape) if len(shape) else scalar

    # -- shapes -----------------------------------------------------------------------------

    def broadcast_to(self, v: SSAValue, shape: Sequence[int]) -> SSAValue:
        """numpy-style (right-aligned) broadcast of `v` to `shape`."""
        src = hlo.shape(v)
        if src == tuple(shape):
            return v
        dims = list(range(len(shape) - len(src), len(shape)))
        return self.add(hlo.BroadcastInDimOp(v, dims, TensorType(hlo.elem(v), list(shape))))

    def reshape(self, v: SSAValue, shape: Sequence[int]) -> SSAValue:
        if hlo.shape(v) == tuple(shape):
            return v
        return self.add(hlo.ReshapeOp(v, TensorType(hlo.elem(v), list(shape))))

    def transpose(self, v: SSAValue, perm: Sequence[int]) -> SSAValue:
        if list(perm) == list(range(len(perm))):
            return v
        return self.add(hlo.TransposeOp(v, perm))

    def convert(self, v: SSAValue, element: Attribute) -> SSAValue:
        if hlo.elem(v) == element:
            return v
        if _is_bool(element):  # ONNX Cast to bool is `!= 0`
            zero = self.splat(0, hlo.elem(v), hlo.shape(v))
            return self.add(hlo.CompareOp("NE", v, zero))
        return self.add(hlo.ConvertOp(v, element))

    # -- arithmetic -------------------------------------------------------------------------

    def unary(self, name: str, v: SSAValue) -> SSAValue:
        return self.add(hlo.UNARY_OPS[name](v))  # type: ignore[call-arg]

    def binary(self, name: str, a: SSAValue, b: SSAValue) -> SSAValue:
        shape = np.broadcast_shapes(hlo.shape(a), hlo.shape(b))
        return self.add(hlo.BINARY_OPS[name](self.broadcast_to(a, shape), self.broadcast_to(b, shape)))  # type: ignore[call-arg]

    def scalar_op(self, name: str, v: SSAValue, value: float) -> SSAValue:
        return self.binary(name, v, self.constant(value, hlo.elem(v)))

    def compare(self, direction: str, a: SSAValue, b: SSAValue) -> SSAValue:
        shape = np.broadcast_shapes(hlo.shape(a), hlo.shape(b))
        return self.add(hlo.CompareOp(direction, self.broadcast_to(a, shape), self.broadcast_to(b, shape)))

    def select(self, pred: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        shape = np.broadcast_shapes(hlo.shape(pred), hlo.shape(a), hlo.shape(b))
        return self.add(hlo.SelectOp(self.broadcast_to(pred, shape), self.broadcast_to(a, shape), self.broadcast_to(b, shape)))

    def reduce(self, v: SSAValue, dims: Sequence[int], kind: str) -> SSAValue:
        """Reduce `v` over `dims` with add / max / min / mul (kept dims removed)."""
        element = hlo.elem(v)
        init = {"add": 0, "multiply": 1, "maximum": _lowest(element), "minimum": _highest(element)}[kind]
        body = hlo.scalar_body(element, hlo.BINARY_OPS[kind])
        return self.add(hlo.ReduceOp([v], [self.constant(init, element)], sorted(dims), body))


def _is_bool(element: Attribute) -> bool:
    return isinstance(element, IntegerType) and element.width.data == 1


def _lowest(element: Attribute) -> float | int:
    dt = numpy_dtype(element)
    return -np.inf if dt.kind == "f" else int(np.iinfo(dt).min)


def _highest(element: Attribute) -> float | int:
    dt = numpy_dtype(element)
    return np.inf if dt.kind == "f" else int(np.iinfo(dt).max)


def store_of(op: Operation) -> BlobStore | None:
    module = module_of(op)
    return blob_store(module) if isinstance(module, ModuleOp) else None

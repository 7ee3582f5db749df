"""Element-type tables between ONNX, xDSL/MLIR and numpy, and tensor-type helpers."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from onnx import TensorProto
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    TensorType,
    UnrankedTensorType,
    i1,
)
from xdsl.ir import Attribute

from tsuc.errors import UnsupportedError

_SIGNED = Signedness.SIGNLESS
_UNSIGNED = Signedness.UNSIGNED

# ONNX data type -> (MLIR element type, numpy dtype)
_TABLE = {
    TensorProto.FLOAT: (Float32Type(), np.dtype("float32")),
    TensorProto.DOUBLE: (Float64Type(), np.dtype("float64")),
    TensorProto.FLOAT16: (Float16Type(), np.dtype("float16")),
    TensorProto.BFLOAT16: (BFloat16Type(), None),
    TensorProto.INT8: (IntegerType(8), np.dtype("int8")),
    TensorProto.INT16: (IntegerType(16), np.dtype("int16")),
    TensorProto.INT32: (IntegerType(32), np.dtype("int32")),
    TensorProto.INT64: (IntegerType(64), np.dtype("int64")),
    TensorProto.UINT8: (IntegerType(8, _UNSIGNED), np.dtype("uint8")),
    TensorProto.UINT16: (IntegerType(16, _UNSIGNED), np.dtype("uint16")),
    TensorProto.UINT32: (IntegerType(32, _UNSIGNED), np.dtype("uint32")),
    TensorProto.UINT64: (IntegerType(64, _UNSIGNED), np.dtype("uint64")),
    TensorProto.BOOL: (i1, np.dtype("bool")),
}


def has_numpy_dtype(onnx_type: int) -> bool:
    """Whether tensors of this ONNX element type are core-IR tensors (numpy can hold them)."""
    return onnx_type in _TABLE and _TABLE[onnx_type][1] is not None


def element_type(onnx_type: int, where: str) -> Attribute:
    if onnx_type not in _TABLE:
        name = TensorProto.DataType.Name(onnx_type) if onnx_type in TensorProto.DataType.values() else str(onnx_type)
        raise UnsupportedError(f"{where}: element type {name} is not supported")
    return _TABLE[onnx_type][0]


def onnx_elem_type(elem: Attribute) -> int:
    for code, (mlir, _np) in _TABLE.items():
        if mlir == elem:
            return code
    raise UnsupportedError(f"element type {elem} has no ONNX equivalent")


def numpy_dtype(elem: Attribute) -> np.dtype:
    for _code, (mlir, np_dtype) in _TABLE.items():
        if mlir == elem and np_dtype is not None:
            return np_dtype
    raise UnsupportedError(f"element type {elem} has no numpy equivalent")


def onnx_type_of_numpy(dtype: np.dtype) -> int:
    for code, (_mlir, np_dtype) in _TABLE.items():
        if np_dtype == dtype:
            return code
    raise UnsupportedError(f"numpy dtype {dtype} has no ONNX equivalent")


def tensor_type(elem: Attribute, shape: list[int | None] | None) -> Attribute:
    """`tensor<...>` with None/negative dims dynamic, or `tensor<*x...>` when the rank is unknown."""
    if shape is None:
        return UnrankedTensorType(elem)
    return _tensor_type(elem, tuple(DYNAMIC_INDEX if d is None or d < 0 else int(d) for d in shape))


@lru_cache(maxsize=8192)
def _tensor_type(elem: Attribute, dims: tuple[int, ...]) -> TensorType:
    """Types are immutable: a model's few hundred distinct ones are built (and verified) once."""
    return TensorType(elem, list(dims))


def shape_of(ty: Attribute) -> list[int | None] | None:
    """Static dims as ints, dynamic as None; None for unranked or non-tensor types."""
    if isinstance(ty, TensorType):
        return [None if d == DYNAMIC_INDEX else d for d in ty.get_shape()]
    return None


def is_fully_static(ty: Attribute) -> bool:
    shape = shape_of(ty)
    return shape is not None and all(d is not None for d in shape)

"""Between `tsu` IR and numpy: tensor attributes in and out of the blob store, problems in and out of ops.

Arrays of more than `INLINE_LIMIT` elements go to the module's blob store as
`dense_resource` handles when the module has one (frontends attach it, `store_of` finds it);
small arrays, and any array of a module parsed from text (lit tests), are written inline as
`dense<...>`.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float64Type,
    IntegerType,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Attribute, Operation

from tsuc.compiler.blobs import BlobStore, attr_value, blob_store, has_store, module_of
from tsuc.dialects.tsu import EmbedOp, ProblemOp
from tsuc.errors import TsucError
from tsuc.runtime.tsu.problem import IsingProblem

INLINE_LIMIT = 64


def _element(dtype: np.dtype) -> Attribute:
    if dtype.kind == "f":
        return Float64Type()
    return IntegerType(64 if dtype.itemsize == 8 else 32)


def store_of(module: ModuleOp | None) -> BlobStore | None:
    """The module's blob store if it came with one (not for text IR)."""
    return blob_store(module) if module is not None and has_store(module) else None


def tensor_attr(store: BlobStore | None, array: np.ndarray, hint: str) -> Attribute:
    """An attribute holding `array` (int64/int32/float64), inline or by blob handle."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind == "f":
        array = array.astype(np.float64)
    elif array.dtype != np.int32:
        array = array.astype(np.int64)
    ty = TensorType(_element(array.dtype), list(array.shape))
    if store is not None and array.size > INLINE_LIMIT:
        handle = store.add(array, hint)
        return DenseResourceAttr.from_params(handle, ty)
    if array.size == 0:
        return DenseIntOrFPElementsAttr.from_list(ty, [])
    values = array.ravel().tolist()
    return DenseIntOrFPElementsAttr.from_list(ty, values)


def tensor_value(attr: Attribute, op: Operation, what: str) -> np.ndarray:
    """The array behind one of `op`'s tensor properties; a TsucError if a resource has no data."""
    module = module_of(op)
    value = attr_value(attr, blob_store(module) if module is not None else None)
    if value is None:
        handle = attr.resource_handle.data if isinstance(attr, DenseResourceAttr) else "?"
        raise TsucError(f"{op.name} {what} is dense_resource<{handle}> with no data (text IR keeps no blobs; write it inline as dense<...>)")
    return np.asarray(value)


def problem_of(op: ProblemOp | EmbedOp) -> IsingProblem:
    """The Ising problem a `tsu.problem` (or the physical problem a `tsu.embed`) holds."""
    n = op.results[0].type.size.data  # type: ignore[attr-defined]
    pairs = tensor_value(op.couplings, op, "couplings").reshape(-1, 2)
    weights = tensor_value(op.weights, op, "weights").reshape(-1)
    fields = tensor_value(op.fields, op, "fields").reshape(-1)
    maxcut = isinstance(op, ProblemOp) and op.maxcut is not None
    return IsingProblem.from_edges(n, pairs[:, 0], pairs[:, 1], weights, fields, op.offset.value.data, maxcut=maxcut)


def problem_op(store: BlobStore | None, problem: IsingProblem, hint: str) -> ProblemOp:
    """A `tsu.problem` op holding `problem`."""
    pairs = np.stack([problem.rows, problem.cols], axis=1) if problem.num_couplings else np.zeros((0, 2), dtype=np.int64)
    return ProblemOp(problem.n, tensor_attr(store, pairs, f"{hint}_couplings"), tensor_attr(store, problem.J, f"{hint}_weights"),
                     tensor_attr(store, problem.h, f"{hint}_fields"), problem.offset, maxcut=problem.maxcut)

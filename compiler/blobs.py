"""The blob store: where weights live, so IR refers to them by handle and never prints them.

This is MLIR's `dense_resource` idea. An initializer becomes
`"onnx.Constant"() {value = dense_resource<conv1_weight> : tensor<64x3x7x7xf32>}` and the
array itself sits in the `BlobStore` attached to the module. Text IR read back by
`tsuc opt` has no store: passes that need values then see `None` and leave the op alone,
and small constants written inline as `dense<...>` work everywhere.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, DenseResourceAttr, ModuleOp
from xdsl.ir import Attribute, OpResult, SSAValue

_HANDLE_CHARS = re.compile(r"[^A-Za-z0-9_.]")


class BlobStore:
    """Arrays by handle; handles are unique, readable identifiers derived from a hint."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def add(self, array: np.ndarray, hint: str = "blob") -> str:
        base = _HANDLE_CHARS.sub("_", hint).strip("_") or "blob"
        if base[0].isdigit():
            base = "w" + base
        handle, n = base, 1
        while handle in self._arrays:
            handle, n = f"{base}_{n}", n + 1
        self._arrays[handle] = array
        return handle

    def get(self, handle: str) -> np.ndarray | None:
        return self._arrays.get(handle)

    def __contains__(self, handle: str) -> bool:
        return handle in self._arrays

    def __len__(self) -> int:
        return len(self._arrays)


_STORES: weakref.WeakKeyDictionary[ModuleOp, BlobStore] = weakref.WeakKeyDictionary()


def blob_store(module: ModuleOp) -> BlobStore:
    """The store attached to `module` (an empty one for modules parsed from text)."""
    store = _STORES.get(module)
    if store is None:
        store = _STORES[module] = BlobStore()
    return store


def attach_store(module: ModuleOp, store: BlobStore) -> None:
    _STORES[module] = store


def has_store(module: ModuleOp | None) -> bool:
    """Whether `module` came with weights (imported), rather than from text IR."""
    return module is not None and module in _STORES and len(_STORES[module]) > 0


def module_of(value_or_op: Any) -> ModuleOp | None:
    op = value_or_op.owner if isinstance(value_or_op, OpResult) else value_or_op
    while op is not None and not isinstance(op, ModuleOp):
        op = op.parent_op()
    return op


def attr_value(attr: Attribute, store: BlobStore | None) -> np.ndarray | None:
    """The numpy value of a tensor attribute: inline `dense<...>` or a resource handle."""
    from tsuc.compiler.types import numpy_dtype

    if isinstance(attr, DenseResourceAttr):
        return None if store is None else store.get(attr.resource_handle.data)
    if isinstance(attr, DenseIntOrFPElementsAttr):
        shape = attr.get_shape() or ()
        dtype = numpy_dtype(attr.get_type().get_element_type())
        values = attr.get_values()
        return np.array(values, dtype=dtype).reshape(shape)
    return None


def constant_value(value: SSAValue, module: ModuleOp | None = None) -> np.ndarray | None:
    """The array behind `value` if an `onnx.Constant` with a tensor `value` produces it."""
    if not isinstance(value, OpResult) or value.owner.name != "onnx.Constant":
        return None
    attr = value.owner.attributes.get("value")
    if attr is None:
        return None
    module = module or module_of(value.owner)
    return attr_value(attr, blob_store(module) if module is not None else None)

"""Weights in text IR: the `{-# dialect_resources #-}` section MLIR uses for `dense_resource`.

Printed IR refers to weights by handle (`dense_resource<conv1_weight>`) and never inlines
them. So that a printed module is complete — `tsuc compile --emit=core | tsuc opt -p ...`
lowers the same weights the driver lowered — the printer appends the blobs the text refers to
in MLIR's resource syntax (`"0x" + 4-byte alignment + raw little-endian bytes`, the format
upstream `mlir-opt` reads), and `tsuc opt` reads them back into the module's blob store.
`--elide-weights` leaves the section out (the handles stay; passes that need values then see
none).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, DenseResourceAttr, DictionaryAttr, ModuleOp
from xdsl.ir import Attribute

from tsuc.compiler.blobs import BlobStore, attach_store, blob_store
from tsuc.compiler.types import numpy_dtype, shape_of
from tsuc.errors import TsucError

_HANDLE = re.compile(r"dense_resource<([A-Za-z0-9_.]+)>")


def print_resources(module: ModuleOp, text: str) -> str:
    """The `{-# dialect_resources #-}` section for the handles `text` mentions ('' if none)."""
    store = blob_store(module)
    handles = sorted({h for h in _HANDLE.findall(text) if h in store})
    if not handles:
        return ""
    lines = ["", "", "{-#", "  dialect_resources: {", "    builtin: {"]
    for k, handle in enumerate(handles):
        array = np.ascontiguousarray(store.get(handle))
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        align = max(array.dtype.itemsize, 1)
        blob = align.to_bytes(4, "little") + array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        sep = "," if k < len(handles) - 1 else ""
        lines.append(f'      {handle}: "0x{blob.hex().upper()}"{sep}')
    lines += ["    }", "  }", "#-}"]
    return "\n".join(lines)


def _resource_attrs(attr: Attribute) -> Iterator[DenseResourceAttr]:
    if isinstance(attr, DenseResourceAttr):
        yield attr
    elif isinstance(attr, ArrayAttr):
        for a in attr.data:
            yield from _resource_attrs(a)
    elif isinstance(attr, DictionaryAttr):
        for a in attr.data.values():
            yield from _resource_attrs(a)


def load_resources(ctx: Context, module: ModuleOp) -> None:
    """Fill `module`'s blob store from the resource section the parser read (if any)."""
    from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface

    dialect = ctx.get_optional_dialect("builtin")
    interface = dialect.get_interface(OpAsmDialectInterface) if dialect is not None else None
    blobs: dict[str, str] = dict(getattr(interface, "_blob_storage", {}) or {})
    if not any(blobs.values()):
        return
    store = BlobStore()
    for op in module.walk():
        for attr in list(op.attributes.values()) + list(op.properties.values()):
            for res in _resource_attrs(attr):
                handle = res.resource_handle.data
                if handle in store or not blobs.get(handle):
                    continue
                store._arrays[handle] = _decode(handle, blobs[handle], res)  # keep the handle as printed
    attach_store(module, store)


def _decode(handle: str, hexblob: str, res: DenseResourceAttr) -> np.ndarray:
    ty = res.type
    elem = ty.get_element_type()  # type: ignore[attr-defined]
    dtype = np.dtype(numpy_dtype(elem))
    shape = shape_of(ty)
    if shape is None or any(d is None for d in shape):
        raise TsucError(f"resource {handle!r} has a dynamic shape")
    try:
        raw = bytes.fromhex(hexblob[2:])[4:]
    except ValueError:
        raise TsucError(f"resource {handle!r} is not a hex blob") from None
    stored = np.dtype(np.uint8) if dtype == np.bool_ else dtype.newbyteorder("<")
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * stored.itemsize:
        raise TsucError(f"resource {handle!r} holds {len(raw)} bytes, its type needs {count * stored.itemsize}")
    return np.frombuffer(raw, stored).astype(dtype).reshape(shape)

"""`--emit=linalg` as upstream MLIR: the fabric segments alone, weights as resources.

After `tfmbs-to-linalg` and `tfmbs-outline`, `tfmbs-upstream-module` keeps only the outlined
`func.func`s (one per fabric segment, public): the host graph around them is ONNX and lives
in `@main`, which upstream MLIR cannot parse, so it is dropped from this view. Every op left
is linalg/tensor/arith/math/func; `tile_mask`, `telemetry` and `schedule` stay as attributes
on each `linalg.matmul`.

`print_upstream` prints that module the way upstream `mlir-opt` reads it: the weights stay
`dense_resource<handle>` references in the IR and their bytes go in a trailing
`{-# dialect_resources: { builtin: { handle: "0x..." } } #-}` section (blob = 4-byte
little-endian alignment, then the raw little-endian elements), or, with `elide_weights`,
the section is left out (upstream parses a handle without a blob as an empty resource).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseResourceAttr, ModuleOp
from xdsl.passes import ModulePass
from xdsl.printer import Printer

from tsuc.compiler.blobs import blob_store, has_store


@dataclass(frozen=True)
class TfmbsUpstreamModulePass(ModulePass):
    """Keep only the outlined fabric functions (public), dropping the ONNX host graph."""

    name = "tfmbs-upstream-module"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for inner in list(op.body.block.ops):
            if isinstance(inner, func.FuncOp) and inner.sym_name.data.startswith("tfmbs") and inner.body.blocks:
                inner.sym_visibility = None
                continue
            inner.detach()
            inner.erase(safe_erase=False)
        for name in list(op.attributes):
            del op.attributes[name]


def resource_handles(module: ModuleOp) -> list[str]:
    """Handles of every `dense_resource` the module refers to, in first-use order."""
    seen: dict[str, None] = {}
    for op in module.walk():
        for attr in (*op.attributes.values(), *op.properties.values()):
            if isinstance(attr, DenseResourceAttr):
                seen.setdefault(attr.resource_handle.data, None)
    return list(seen)


def blob_hex(array: np.ndarray) -> str:
    """MLIR's textual resource blob: 0x, the alignment as 4 little-endian bytes, the data."""
    a = np.ascontiguousarray(array)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    align = max(1, a.dtype.itemsize)
    return "0x" + align.to_bytes(4, "little").hex().upper() + a.tobytes().hex().upper()


def print_upstream(module: ModuleOp, elide_weights: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out).print_op(module)
    text = out.getvalue() + "\n"
    handles = resource_handles(module)
    if elide_weights or not handles or not has_store(module):
        return text
    store = blob_store(module)
    lines = []
    for h in handles:
        value = store.get(h)
        if value is not None:
            lines.append(f"      {h}: \"{blob_hex(value)}\"")
    if not lines:
        return text
    return text + "\n{-#\n  dialect_resources: {\n    builtin: {\n" + ",\n".join(lines) + "\n    }\n  }\n#-}\n"

"""`--emit=linalg` as upstream MLIR: the fabric segments alone, weights as resources.

After `tfmbs-to-linalg` and `tfmbs-outline`, `tfmbs-upstream-module` keeps only the outlined
`func.func`s (one per fabric segment, public): the host graph around them is ONNX and lives
in `@main`, which upstream MLIR cannot parse, so it is dropped from this view. Every op left
is linalg/tensor/arith/math/func; `tile_mask`, `telemetry` and `schedule` stay as attributes
on each `linalg.matmul`.

The driver prints that module as it prints any IR (`compiler/resources.py`): the weights
stay `dense_resource<handle>` references and their bytes go in a trailing
`{-# dialect_resources #-}` section, which upstream `mlir-opt` reads as printed, or, with
`--elide-weights`, the section is left out (upstream parses a handle without a blob as an
empty resource).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


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

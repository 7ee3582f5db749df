"""The `tfmbs` target: Gemm/MatMul/Conv with constant weights as ternary GEMV frames.

With the option `fold` (default on), a BatchNormalization, a residual Add and a Relu that
directly extend a fabric layer go to the fabric segment too (`fold.py`) and are folded into
the layer's host epilogue by tfmbs-lower.

Pipeline after partitioning: tfmbs-lower (quantise weights, activations as trit planes, gemv
per plane) -> tfmbs-allocate (Bank A placement, residency, frame schedules); both read the
options from each segment's `#tsuc.target<"tfmbs", ...>`. View `linalg`: tfmbs-to-linalg ->
tfmbs-outline -> tfmbs-upstream-module (`--emit=linalg`: one upstream func.func per fabric
segment, weights as a resource section; upstream `mlir-opt` reads it as printed).
Emission writes PT-5 weight streams, scales, bias and TFD programs per layer (`emit.py`);
`tsuc.runtime.tfmbs.executor.TfmbsSegment` runs them.
"""

from __future__ import annotations

from typing import Any

from tsuc.runtime.tfmbs.options import TfmbsOptions
from tsuc.targets.base import Target
from tsuc.targets.tfmbs.fold import FOLDABLE, fold_reason
from tsuc.targets.tfmbs.layers import layer_info


class TfmbsTarget(Target):
    name = "tfmbs"
    accelerates = frozenset({"onnx.Gemm", "onnx.MatMul", "onnx.Conv"})
    description = "Ternary Fabric: MatMul/Gemm/Conv with constant weights as ternary GEMV frames (PT-5, TFD programs)"
    options_class = TfmbsOptions

    # -- partitioning ------------------------------------------------------------------------

    def supports(self, op) -> bool:
        if op.name in FOLDABLE:  # not in `accelerates`: an unfolded Relu is no missed fabric op
            return bool(self.options.fold) and fold_reason(op) is None
        return not isinstance(layer_info(op), str)

    def unsupported_reason(self, op) -> str:
        if op.name in FOLDABLE:
            if not self.options.fold:
                return f"{op.name.split('.')[1]} folds into a fabric layer only with the option fold=true"
            why = fold_reason(op)
            return f"it is not folded into a fabric layer: {why}" if why else "supported"
        reason = layer_info(op)
        return reason if isinstance(reason, str) else "supported"

    # -- lowering ----------------------------------------------------------------------------

    def pipeline(self) -> list[str]:
        return ["tfmbs-lower", "tfmbs-allocate"]

    def views(self) -> dict[str, list[str]]:
        return {"linalg": ["tfmbs-to-linalg", "tfmbs-outline", "tfmbs-upstream-module"]}

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.compiler.target_config import segment_options
        from tsuc.targets.tfmbs.emit import emit_tfmbs_segment

        opts = segment_options(segment, TfmbsOptions)
        entry = emit_tfmbs_segment(segment, ctx, opts.fabric_config(), opts.encoding, opts.zero_skip)
        entry["config"]["fuse"] = opts.fuse
        return entry

    def finish_segments(self, segments, builder, graph_outputs):
        from tsuc.targets.tfmbs.fuse import fuse_segments

        return fuse_segments(segments, builder, graph_outputs)


__all__ = ["TfmbsTarget"]

"""The `hologram` target: fused vector kernels on the 96-class in-cache boundary pool.

Pipeline after partitioning (every pass reads the options of the segment it rewrites):
  hologram-lower       onnx ops -> hologram vector ops, literally (ops_original is counted here)
  hologram-canonicalize  algebraic identities, folded scalar/affine chains, activation forms,
                       transpose/reshape pairs, CSE (ops_canonical)
  hologram-fuse        ops grouped into `hologram.kernel`s (one launch each)
  hologram-allocate    buffers between kernels get classes by liveness; the rest spills
Emission (`emit.py`) writes the kernels as an op list, the constants as `.npy` members and
the allocation; `tsuc.runtime.hologram.executor.HologramSegment` runs them.
"""

from __future__ import annotations

from typing import Any

from tsuc.runtime.hologram.options import HologramOptions
from tsuc.targets.base import Target


class HologramTarget(Target):
    name = "hologram"
    description = ("Hologram in-cache vector engine: elementwise/activation/normalisation/reduction/small-GEMM work "
                   "fused into kernels over a 96-class pool")
    options_class = HologramOptions

    @property
    def accelerates(self):  # type: ignore[override]
        from tsuc.targets.hologram.lower import ACCELERATES

        return ACCELERATES

    def supports(self, op) -> bool:
        return not isinstance(self._plan(op), str)

    def unsupported_reason(self, op) -> str:
        reason = self._plan(op)
        return reason if isinstance(reason, str) else "supported"

    def _plan(self, op):
        from tsuc.targets.hologram.lower import plan

        return plan(op, gemm_max_bytes=self["gemm_max_bytes"])

    def pipeline(self) -> list[str]:
        return ["hologram-lower", "hologram-canonicalize", "hologram-fuse", "hologram-allocate"]

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.hologram.emit import emit_hologram_segment

        return emit_hologram_segment(segment, ctx)


__all__ = ["HologramTarget"]

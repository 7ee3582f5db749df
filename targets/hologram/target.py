"""The `hologram` target: fused vector kernels on the 96-class in-cache boundary pool.

Pipeline after partitioning (`emit_stages`, one stage `target`):
  hologram-configure   the segment carries its resolved options (`segment_options` reads them)
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

from tsuc.runtime.hologram.machine import MACHINE_OPTIONS
from tsuc.targets.base import Option, Target
from tsuc.targets.hologram.options import COMPILE_OPTIONS


def _option(name: str, default: Any, help: str) -> Option:
    kind = type(default)
    minimum = None if kind is bool else 0
    return Option(name, kind, default, help, minimum=minimum)


class HologramTarget(Target):
    name = "hologram"
    description = "Hologram in-cache vector engine: elementwise/activation/normalisation/reduction/small-GEMM work fused into kernels over a 96-class pool"
    options = tuple(_option(k, v, h) for k, (v, h) in {**COMPILE_OPTIONS, **MACHINE_OPTIONS}.items())

    @property
    def accelerates(self):  # type: ignore[override]
        from tsuc.targets.hologram.lower import ACCELERATES

        return ACCELERATES

    def validate(self) -> None:
        from tsuc.errors import TsucError

        for key in ("vector_lanes", "clock_mhz", "linear_bytes_per_cycle"):
            if self.values[key] <= 0:
                raise TsucError(f"target hologram option {key} must be positive")
        lanes = self.values["vector_lanes"]
        if lanes & (lanes - 1):
            raise TsucError("target hologram option vector_lanes must be a power of two (the reduction tree)")

    def supports(self, op) -> bool:
        return not isinstance(self._plan(op), str)

    def unsupported_reason(self, op) -> str:
        reason = self._plan(op)
        return reason if isinstance(reason, str) else "supported"

    def _plan(self, op):
        from tsuc.targets.hologram.lower import plan

        return plan(op, gemm_max_bytes=self.values["gemm_max_bytes"])

    def emit_stages(self) -> dict[str, list[Any]]:
        from tsuc.targets.hologram.allocate import AllocateHologramPass
        from tsuc.targets.hologram.canonicalize import CanonicalizeHologramPass
        from tsuc.targets.hologram.fuse import FuseHologramPass
        from tsuc.targets.hologram.lower import LowerToHologramPass
        from tsuc.targets.hologram.options import ConfigureHologramPass

        return {"target": [ConfigureHologramPass(tuple(sorted(self.values.items()))), LowerToHologramPass(),
                           CanonicalizeHologramPass(), FuseHologramPass(), AllocateHologramPass()]}

    def pipeline(self) -> list[Any]:
        return self.emit_stages()["target"]

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.hologram.emit import emit_hologram_segment

        return emit_hologram_segment(segment, ctx)


__all__ = ["HologramTarget"]

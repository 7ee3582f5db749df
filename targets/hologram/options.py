"""Where hologram passes read the target's options: `segment_options(segment)`, from the
segment's own `#tsuc.target<"hologram", {...}>` (declared defaults for what it does not name).
Passes never hold options in fields of their own, so printed IR replays through `tsuc opt`."""

from __future__ import annotations

from typing import Any

from xdsl.ir import Operation

from tsuc.compiler.target_config import segment_options as _segment_options
from tsuc.runtime.hologram.options import COMPILE_OPTIONS, HologramOptions


def defaults() -> dict[str, Any]:
    return HologramOptions().values()


def segment_options(segment: Operation) -> dict[str, Any]:
    opts = _segment_options(segment, HologramOptions)
    return (opts or HologramOptions()).values()


__all__ = ["COMPILE_OPTIONS", "defaults", "segment_options"]

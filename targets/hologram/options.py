"""Where hologram passes read the target's options: `segment_options(segment)`.

The options of a segment are carried on it (`hologram.options`, a dictionary attribute the
first pass of the pipeline writes), so that printed IR replays through `tsuc opt` exactly.
Passes never hold options in fields of their own; when the segment carries its target
attribute (`#tsuc.target<"hologram", {...}>`, the multi-target driver), this is the one
function to re-point.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import (
    BoolAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Operation

from tsuc.runtime.hologram.machine import MACHINE_OPTIONS, POOL_BYTES

OPTIONS_ATTR = "hologram.options"

COMPILE_OPTIONS: dict[str, tuple[Any, str]] = {
    "fuse": (True, "fuse chains and DAGs of vector ops into kernels (false: one kernel per op)"),
    "canonicalize": (True, "run the hologram canonicalisation patterns"),
    "gemm_max_bytes": (POOL_BYTES, "largest MatMul/Gemm (both operands and result, bytes) the engine takes (default: the pool)"),
}


def defaults() -> dict[str, Any]:
    return {k: v for k, (v, _h) in {**COMPILE_OPTIONS, **MACHINE_OPTIONS}.items()}


def _attr(value: Any):
    if isinstance(value, bool):
        return IntegerAttr(int(value), 1)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    return StringAttr(str(value))


def options_attr(values: dict[str, Any]) -> DictionaryAttr:
    known = defaults()
    return DictionaryAttr({k: _attr(type(known[k])(values[k])) for k in sorted(known) if k in values})


def segment_options(segment: Operation) -> dict[str, Any]:
    """Defaults, overridden by what the segment carries."""
    out = defaults()
    attr = segment.attributes.get(OPTIONS_ATTR)
    if isinstance(attr, DictionaryAttr):
        for k, v in attr.data.items():
            if k not in out:
                continue
            if isinstance(out[k], bool):
                out[k] = bool(v.value.data)
            elif isinstance(out[k], int):
                out[k] = int(v.value.data)
            elif isinstance(out[k], float):
                out[k] = float(v.value.data)
    return out


__all__ = ["COMPILE_OPTIONS", "OPTIONS_ATTR", "BoolAttr", "defaults", "options_attr", "segment_options"]


from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class ConfigureHologramPass(ModulePass):
    """`hologram-configure`: stamp the target's resolved options on each hologram segment.

    The one place options enter the IR until segments carry `#tsuc.target`; a segment that
    already carries options (text IR) keeps them."""

    name = "hologram-configure"

    values: tuple[tuple[str, Any], ...] = ()

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from tsuc.dialects.tsuc import SegmentOp

        values = {k: v for k, v in self.values if k in defaults()}
        for seg in op.walk():
            if isinstance(seg, SegmentOp) and seg.target.data == "hologram" and OPTIONS_ATTR not in seg.attributes:
                seg.attributes[OPTIONS_ATTR] = options_attr({**defaults(), **values})

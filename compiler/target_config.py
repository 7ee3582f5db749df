"""How lowering passes read their target's options: from the segment they rewrite.

The partition pass writes `#tsuc.target<"name", {resolved options}>` on every segment; a
lowering pass has no option fields of its own and asks, for the op it rewrites, for the
options of the enclosing segment (None when that segment belongs to another target). So a
printed module carries everything its lowering needs and `tsuc opt` replays the driver.
Options missing from the attribute (hand-written IR) take their declared defaults.
"""

from __future__ import annotations

from typing import TypeVar

from xdsl.ir import Operation

from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.runtime.options import Options

O = TypeVar("O", bound=Options)


def enclosing_segment(op: Operation) -> SegmentOp | None:
    parent = op if isinstance(op, SegmentOp) else op.parent_op()
    while parent is not None and not isinstance(parent, SegmentOp):
        parent = parent.parent_op()
    return parent


def segment_options(op: Operation, options_class: type[O]) -> O | None:
    """The `options_class` options of the segment around `op`, if it is that target's."""
    seg = enclosing_segment(op)
    if seg is None or seg.target_name != options_class.namespace:
        return None
    try:
        return options_class.create(seg.options())  # type: ignore[return-value]
    except TsucError as e:
        raise TsucError(f"segment {seg.sym_name.data}: {e}") from None


def target_segments(module: Operation, name: str) -> list[SegmentOp]:
    """The segments of target `name` in `module`, in program order."""
    return [op for op in module.walk() if isinstance(op, SegmentOp) and op.target_name == name]

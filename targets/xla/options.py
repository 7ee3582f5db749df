"""The one place lowering and emission read the xla target's options for a segment.

For now the segment does not carry its target options, so this returns the declared defaults
merged with the options the driver's target was created with; the architecture rewrite will
read them from the segment's `#tsuc.target<...>` attribute instead.
"""

from __future__ import annotations

from typing import Any

from tsuc.dialects.tsuc import SegmentOp


def segment_options(segment: SegmentOp, target: Any = None) -> dict[str, Any]:
    from tsuc.targets.xla.target import XlaTarget

    values = {o.name: o.default for o in XlaTarget.all_options()}
    if target is not None:
        values.update(target.values)
    return values

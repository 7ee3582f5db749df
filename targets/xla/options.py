"""The one place lowering and emission read the xla target's options for a segment: the
segment's own `#tsuc.target<"xla", {...}>` (declared defaults for what it does not name)."""

from __future__ import annotations

from typing import Any

from tsuc.compiler.target_config import segment_options as _segment_options
from tsuc.dialects.tsuc import SegmentOp
from tsuc.runtime.xla.options import XlaOptions


def segment_options(segment: SegmentOp, target: Any = None) -> dict[str, Any]:
    opts = _segment_options(segment, XlaOptions)
    return (opts or XlaOptions()).values()

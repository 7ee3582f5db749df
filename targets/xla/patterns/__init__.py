"""onnx -> hlo rewrite patterns, one per ONNX op or family of ops (see each module)."""

from __future__ import annotations

from functools import cache

from tsuc.targets.xla.patterns.base import OnnxToHlo


@cache
def all_patterns() -> tuple[OnnxToHlo, ...]:
    from tsuc.targets.xla.patterns import elementwise, nn, recurrent, shape

    return tuple(cls() for mod in (elementwise, nn, shape, recurrent) for cls in mod.PATTERNS)


@cache
def pattern_for() -> dict[str, OnnxToHlo]:
    """ONNX op type -> the pattern that lowers it."""
    return {t: p for p in all_patterns() for t in p.op_types}

"""Reading ONNX node attributes off core-IR ops, with the schema's default when absent.

Every target's `supports`/lowering asks the same questions of an op (`group`, `transB`,
`alpha`, `kernel_shape`, `auto_pad`); these are the one set of readers they share.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr, FloatAttr, IntegerAttr, StringAttr
from xdsl.ir import Operation


def int_attr(op: Operation, name: str, default: int) -> int:
    a = op.attributes.get(name)
    return int(a.value.data) if isinstance(a, IntegerAttr) else default


def float_attr(op: Operation, name: str, default: float) -> float:
    """A float attribute (an integer one is read as its float value)."""
    a = op.attributes.get(name)
    return float(a.value.data) if isinstance(a, (FloatAttr, IntegerAttr)) else default


def ints_attr(op: Operation, name: str) -> list[int] | None:
    a = op.attributes.get(name)
    return [int(v.value.data) for v in a.data] if isinstance(a, ArrayAttr) else None


def str_attr(op: Operation, name: str, default: str) -> str:
    a = op.attributes.get(name)
    return a.data if isinstance(a, StringAttr) else default

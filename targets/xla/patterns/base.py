"""The shape every onnx -> hlo pattern has: which ONNX ops it takes, when it can, how it lowers.

`check(op)` returns None when the pattern can lower `op`, else the reason it cannot (the
target's `supports` and its compile notes use it, so partitioning and lowering never
disagree); `build(op, b)` adds hlo ops to the builder and returns the values replacing the
op's results, in order.
"""

from __future__ import annotations

from typing import Any, ClassVar

from xdsl.dialects.builtin import ArrayAttr, FloatAttr, IntegerAttr, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from tsuc.compiler.onnx_export import node_name
from tsuc.dialects import hlo
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.targets.xla.builder import HloBuilder, store_of

TARGET = "xla"


def in_xla_segment(op: Operation) -> bool:
    parent = op.parent_op()
    return isinstance(parent, SegmentOp) and parent.target.data == TARGET


def attr(op: Operation, name: str, default: Any = None) -> Any:
    """An ONNX attribute as a Python value (int, float, str, list), or `default`."""
    a = op.attributes.get(name)
    if a is None:
        return default
    if isinstance(a, IntegerAttr):
        return a.value.data
    if isinstance(a, FloatAttr):
        return a.value.data
    if isinstance(a, StringAttr):
        return a.data
    if isinstance(a, ArrayAttr):
        return [x.value.data if isinstance(x, (IntegerAttr, FloatAttr)) else getattr(x, "data", x) for x in a.data]
    return a


def inp(op: Operation, k: int) -> Any:
    """The k-th ONNX input: a value, None when an optional input is absent, a tuple if variadic."""
    py = op.ONNX_OPERANDS[k][0]  # type: ignore[attr-defined]
    return getattr(op, py)


def n_inputs(op: Operation) -> int:
    return len(op.ONNX_OPERANDS)  # type: ignore[attr-defined]


def out_shape(op: Operation, k: int = 0) -> tuple[int, ...]:
    return hlo.shape(op.results[k])


def out_elem(op: Operation, k: int = 0):
    return hlo.elem(op.results[k])


def result_used(op: Operation, k: int) -> bool:
    return k < len(op.results) and bool(op.results[k].uses)


class OnnxToHlo(RewritePattern):
    """Base of the per-family patterns."""

    op_types: ClassVar[tuple[str, ...]] = ()

    def check(self, op: Operation) -> str | None:
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        raise NotImplementedError

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        op_type = getattr(op, "ONNX_OP_TYPE", None)
        if op_type not in self.op_types or not in_xla_segment(op):
            return
        where = node_name(op) or op_type
        reason = self.check(op)
        if reason is not None:
            raise TsucError(f"node {where}: cannot lower {op_type} to hlo: {reason}")
        b = HloBuilder(store_of(op), hint=f"{where}_{op_type}")
        results = self.build(op, b)
        for k, (old, new) in enumerate(zip(op.results, results)):
            if new is None:
                continue
            if new.type != old.type:
                if isinstance(new.type, TensorType) and hlo.elem(new) == hlo.elem(old):
                    results[k] = b.reshape(new, hlo.shape(old))
                else:
                    raise TsucError(f"node {where}: hlo lowering of {op_type} gave {new.type}, expected {old.type}")
        for new_op in b.ops:  # hlo ops keep the ONNX node name: profiles and diagnostics quote it
            new_op.location = op.location
        rewriter.replace(op, b.ops, results)  # type: ignore[arg-type]

"""Sampling ops of models on the tsu target: ONNX random ops -> `tsu.sample`, and their emission.

torch exports `torch.bernoulli`, `torch.rand_like` and `torch.randn_like` (and so the
`tsuc.nn` thermodynamic layers) as ONNX Bernoulli, RandomUniformLike and RandomNormalLike;
the partitioner puts those (and RandomUniform / RandomNormal) into tsu segments, and
`tsu-lower-sampling` rewrites each into a `tsu.sample`:

    onnx.Bernoulli(p)                 -> tsu.sample "bernoulli" (p)
    onnx.RandomUniformLike(x){low,high} -> tsu.sample "noise" (x) distribution "uniform" loc low scale high-low
    onnx.RandomNormalLike(x){mean,scale}-> tsu.sample "noise" (x) distribution "normal" loc mean scale scale
    onnx.RandomUniform / RandomNormal -> the same with no operand (shape from the result type)

The ONNX `seed` attribute is ignored: randomness comes from the p-bits' RNGs, seeded by the
run's `seed` parameter (documented in docs/tsu.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from tsuc.compiler.types import numpy_dtype, shape_of
from tsuc.dialects.tsu import SampleOp
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.compiler.attrs import float_attr as _float


class LowerSamplingPattern(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        parent = op.parent_op()
        if not isinstance(parent, SegmentOp) or parent.target_name != "tsu":
            return
        name = op.name.split(".", 1)[-1]
        types = [r.type for r in op.results]
        operands = list(op.operands)
        if name == "Bernoulli":
            new = SampleOp("bernoulli", operands, types)
        elif name in ("RandomUniformLike", "RandomUniform"):
            low, high = _float(op, "low", 0.0), _float(op, "high", 1.0)
            new = SampleOp("noise", operands, types, distribution="uniform", loc=low, scale=high - low)
        elif name in ("RandomNormalLike", "RandomNormal"):
            new = SampleOp("noise", operands, types, distribution="normal", loc=_float(op, "mean", 0.0), scale=_float(op, "scale", 1.0))
        else:
            return
        if op.name.startswith("onnx.Random") and not operands and shape_of(types[0]) is None:
            raise TsucError(f"{op.name} has no static shape for the tsu target")
        rewriter.replace(op, new)


@dataclass(frozen=True)
class TsuLowerSamplingPass(ModulePass):
    """ONNX random ops inside tsu segments -> tsu.sample."""

    name = "tsu-lower-sampling"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerSamplingPattern(), apply_recursively=False).rewrite_module(op)


def emit_sampling(target, segment: SegmentOp, ops: list[SampleOp], ctx) -> dict[str, Any]:
    """The `tsu-sample` manifest entry: the sample ops in order, values by position."""
    refs: dict[Any, str] = {arg: f"arg:{k}" for k, arg in enumerate(segment.body.block.args)}
    entries = []
    for k, op in enumerate(ops):
        if len(op.outs) != 1:
            raise TsucError(f"tsu.sample \"{op.kind.data}\" in a model segment must yield one tensor")
        ty = op.outs[0].type
        entry: dict[str, Any] = {"kind": op.kind.data, "output": f"op:{k}",
                                 "dtype": numpy_dtype(ty.get_element_type()).name}
        if op.inputs:
            if op.inputs[0] not in refs:
                raise TsucError(f"tsu.sample \"{op.kind.data}\" reads a value computed by a non-sampling op inside its tsu segment")
            entry["input"] = refs[op.inputs[0]]
        else:
            shape = shape_of(ty)
            if shape is None or any(d is None for d in shape):
                raise TsucError(f"tsu.sample \"{op.kind.data}\" with no operand needs a static result shape")
            entry["input"] = None
            entry["shape"] = list(shape)
        if op.kind.data == "noise":
            entry.update(distribution=op.distribution.data, loc=op.loc.value.data if op.loc else 0.0,
                         scale=op.scale.value.data if op.scale else 1.0)
        if op.kind.data == "attention":
            entry.update(samples=op.samples.value.data, beta=op.beta.value.data)
        if op.kind.data == "ising":
            raise TsucError("an Ising anneal cannot share a segment with model sampling ops")
        refs[op.outs[0]] = f"op:{k}"
        entries.append(entry)
    term = segment.body.block.last_op
    yields = []
    for v in term.operands:  # type: ignore[union-attr]
        if v not in refs:
            raise TsucError(f"tsu segment {segment.sym_name.data} yields a value no sampling op produces")
        yields.append(refs[v])
    return {"kind": "tsu-sample", "config": {"ops": entries, "yield": yields, "machine": target.machine_config()}}

"""`hologram-canonicalize`: rewrite a segment's vector ops to a canonical form with fewer ops.

The seed's "canonical compilation" reports reduction = 100 * (1 - canonical_ops /
original_ops); tsuc measures the same ratio on the vector ops of each segment
(`hologram.ops_original` from `hologram-lower`, `hologram.ops_canonical` here). Patterns,
applied to a fixpoint by one greedy walker, as xDSL's canonicalize does:

- `FoldAffineChain`: a chain of ops that each scale and/or shift by a constant (add, sub,
  mul, div by a constant or a fill, add_scalar, mul_scalar, neg) becomes at most one multiply
  and one add, with scalar forms for splat constants. It covers x*1, x+0, x-0, x/1, double
  negation, consecutive scalar ops, constant broadcasts (add of a splat -> add_scalar) and
  inference BatchNormalization (sub/div/mul/add -> mul/add).
- `SubSelf`: x - x -> fill 0.
- `Idempotent`: relu(relu x), abs(abs x), abs(neg x), relu(abs x).
- `SigmoidForms`: 0.5 + 0.5 tanh(x/2) and 1 / (1 + exp(-x)) -> sigmoid(x).
- `GeluErfForm`: x * 0.5 * (1 + erf(x / sqrt 2)) in its exported orders -> gelu(x).
- `TransposeReshapePairs`: transpose of transpose composes (or cancels), reshape of reshape
  is one reshape, a reshape to the operand's own shape is nothing.
- `FoldConstants`: a vector op whose operands are all constants is evaluated now.
Then xDSL's common-subexpression elimination merges identical ops, and dead ops are erased.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp
from xdsl.ir import Operation, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from tsuc.compiler.blobs import constant_value, module_of
from tsuc.dialects import hologram as hg
from tsuc.targets.hologram.lower import (
    Emitter,
    count_vector_ops,
    drop_dead_ops,
    hologram_segments,
)
from tsuc.targets.hologram.options import segment_options

CANONICAL = "hologram.ops_canonical"


def const_of(v: SSAValue) -> np.ndarray | None:
    """The value of a constant operand (onnx.Constant or hologram.fill), else None."""
    if not isinstance(v, OpResult):
        return None
    owner = v.owner
    if isinstance(owner, hg.FillOp):
        return np.full(tuple(owner.result.type.get_shape()), float(owner.value.value.data), np.float32)
    if owner.name == "onnx.Constant":
        value = constant_value(v)
        return None if value is None else np.asarray(value, np.float32)
    return None


def _single_use(v: SSAValue) -> bool:
    return v.has_one_use()


def _splat(a: np.ndarray | float) -> float | None:
    arr = np.asarray(a)
    if arr.size == 0:
        return None
    first = arr.reshape(-1)[0]
    return float(first) if np.all(arr == first) else None


def _shape(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape())


def affine_of(op: Operation) -> tuple[SSAValue, np.ndarray, np.ndarray] | None:
    """(x, A, B) with op(x) = x * A + B for a constant A, B (float64), else None."""
    one, zero = np.ones((), np.float64), np.zeros((), np.float64)
    if isinstance(op, hg.AddScalarOp):
        return op.input, one, np.float64(op.scalar)
    if isinstance(op, hg.MulScalarOp):
        return op.input, np.float64(op.scalar), zero
    if isinstance(op, hg.NegOp):
        return op.input, -one, zero
    if isinstance(op, (hg.AddOp, hg.SubOp, hg.MulOp, hg.DivOp)):
        cl, cr = const_of(op.lhs), const_of(op.rhs)
        if (cl is None) == (cr is None):
            return None
        if cr is not None:
            x, c = op.lhs, cr.astype(np.float64)
            if isinstance(op, hg.AddOp):
                return x, one, c
            if isinstance(op, hg.SubOp):
                return x, one, -c
            if isinstance(op, hg.MulOp):
                return x, c, zero
            if np.any(c == 0):
                return None
            return x, 1.0 / c, zero
        x, c = op.rhs, cl.astype(np.float64)  # type: ignore[union-attr]
        if isinstance(op, hg.AddOp):
            return x, one, c
        if isinstance(op, hg.SubOp):
            return x, -one, c
        if isinstance(op, hg.MulOp):
            return x, c, zero
    return None


def _const_operands(ops: list[Operation]) -> int:
    return sum(1 for op in ops for v in op.operands if const_of(v) is not None)


class FoldAffineChain(RewritePattern):
    """x -> (*a1 + b1) -> (*a2 + b2) ... -> x * A + B in at most two ops."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        first = affine_of(op)
        if first is None or not op.results[0].uses:
            return
        # match at the end of a chain only
        if _single_use(op.results[0]):
            user = next(iter(op.results[0].uses)).operation
            if affine_of(user) is not None and affine_of(user)[0] is op.results[0]:  # type: ignore[index]
                return
        chain = [op]
        x = first[0]
        while isinstance(x, OpResult) and _single_use(x):
            inner = affine_of(x.owner)
            if inner is None:
                break
            chain.append(x.owner)
            x = inner[0]
        A, B = np.ones((), np.float64), np.zeros((), np.float64)
        for o in reversed(chain):
            _, a, b = affine_of(o)  # type: ignore[misc]
            A, B = A * a, B * a + b
        out_shape = _shape(op.results[0])
        e = Emitter(module_of(op), "canon")
        sa, sb = _splat(A), _splat(B)
        y = x
        if sa == 0.0 and sb is not None:
            y = e.add(hg.FillOp(sb, out_shape))
        else:
            if sa is None:
                y = e.add(hg.MulOp(y, e.const(A.astype(np.float32))))
            elif sa != 1.0:
                y = e.add(hg.MulScalarOp(y, sa))
            if sb is None:
                y = e.add(hg.AddOp(y, e.const(B.astype(np.float32))))
            elif sb != 0.0:
                y = e.add(hg.AddScalarOp(y, sb))
        new_vector = [o for o in e.ops if isinstance(o, hg.VectorOp)]
        if _shape(y) != out_shape or len(new_vector) > len(chain) or (
                len(new_vector) == len(chain) and sum(o.name == "onnx.Constant" for o in e.ops) >= _const_operands(chain)):
            for o in reversed(e.ops):  # never inserted: drop the uses they hold
                o.erase()
            return
        rewriter.replace(op, e.ops, [y])


class SubSelf(RewritePattern):
    """x - x -> 0"""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, hg.SubOp) and op.lhs is op.rhs:
            rewriter.replace(op, hg.FillOp(0.0, _shape(op.result)))


class Idempotent(RewritePattern):
    """relu(relu x) = relu x, abs(abs x) = abs x, abs(neg x) = abs x, relu(abs x) = abs x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, (hg.ReluOp, hg.AbsOp)) or not isinstance(op.input, OpResult):
            return
        inner = op.input.owner
        if type(inner) is type(op) or (isinstance(op, hg.ReluOp) and isinstance(inner, hg.AbsOp)):
            rewriter.replace(op, [], [op.input])
        elif isinstance(op, hg.AbsOp) and isinstance(inner, hg.NegOp):
            rewriter.replace(op, hg.AbsOp(inner.input))


def _close(a: float | None, b: float, tol: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= tol * max(1.0, abs(b))


def _scaled(v: SSAValue) -> tuple[SSAValue, float]:
    """v = x * s: (x, s) through a mul_scalar, else (v, 1)."""
    if isinstance(v, OpResult) and isinstance(v.owner, hg.MulScalarOp):
        return v.owner.input, v.owner.scalar
    return v, 1.0


def _is_neg_of(v: SSAValue) -> SSAValue | None:
    if isinstance(v, OpResult) and isinstance(v.owner, hg.NegOp):
        return v.owner.input
    x, s = _scaled(v)
    return x if s == -1.0 and x is not v else None


def _scalar_chain(v: SSAValue) -> tuple[SSAValue, float, float]:
    """v = base * a + b through add_scalar / mul_scalar ops (inner ones single-use)."""
    ops = []
    while isinstance(v, OpResult) and isinstance(v.owner, (hg.AddScalarOp, hg.MulScalarOp)) and (not ops or v.has_one_use()):
        ops.append(v.owner)
        v = v.owner.input
    a, b = 1.0, 0.0
    for o in reversed(ops):
        if isinstance(o, hg.AddScalarOp):
            b += o.scalar
        else:
            a, b = a * o.scalar, b * o.scalar
    return v, a, b


class SigmoidForms(RewritePattern):
    """0.5 + 0.5 * tanh(0.5 x) -> sigmoid(x);  1 / (1 + exp(-x)) -> sigmoid(x)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, (hg.AddScalarOp, hg.MulScalarOp)):
            base, a, b = _scalar_chain(op.results[0])
            if _close(a, 0.5) and _close(b, 0.5) and isinstance(base, OpResult) and isinstance(base.owner, hg.TanhOp):
                x, c = _scaled(base.owner.input)
                if _close(c, 0.5) and x is not base.owner.input:
                    rewriter.replace(op, hg.SigmoidOp(x))
            return
        if isinstance(op, hg.DivOp):
            num = const_of(op.lhs)
            d = op.rhs
            if num is None or _splat(num) != 1.0 or not isinstance(d, OpResult) or not isinstance(d.owner, hg.AddScalarOp):
                return
            if d.owner.scalar != 1.0 or not isinstance(d.owner.input, OpResult) or not isinstance(d.owner.input.owner, hg.ExpOp):
                return
            x = _is_neg_of(d.owner.input.owner.input)
            if x is not None and _shape(x) == _shape(op.result):
                rewriter.replace(op, hg.SigmoidOp(x))


def _erf_side(v: SSAValue) -> tuple[SSAValue, float] | None:
    """v = a * (1 + erf(x / sqrt 2)) (as add_scalar(mul_scalar(erf(mul_scalar x)))): (x, a)."""
    if not isinstance(v, OpResult) or not isinstance(v.owner, hg.AddScalarOp):
        return None
    b = v.owner.scalar
    e, a = _scaled(v.owner.input)
    if not isinstance(e, OpResult) or not isinstance(e.owner, hg.ErfOp) or not _close(a, b, 1e-5):
        return None
    x, c = _scaled(e.owner.input)
    if x is e.owner.input or not _close(c, 1 / math.sqrt(2), 1e-5):
        return None
    return x, a


class GeluErfForm(RewritePattern):
    """(s x) * (a + a erf(x / sqrt 2)) -> 2 s a * gelu(x), in either operand order."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, hg.MulOp):
            return
        for p, q in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            side = _erf_side(q)
            if side is None:
                continue
            x, a = side
            px, s = _scaled(p)
            if px is not x and p is not x:
                continue
            if p is x:
                s = 1.0
            if _shape(x) != _shape(op.result):
                continue
            g = hg.GeluOp(x)
            scale = 2.0 * s * a
            if _close(scale, 1.0):
                rewriter.replace(op, g)
            else:
                rewriter.replace(op, [g, m := hg.MulScalarOp(g.result, scale)], [m.result])
            return


class TransposeReshapePairs(RewritePattern):
    """transpose(transpose x) composes; reshape(reshape x) is one; reshape to x's shape is x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, hg.ReshapeOp):
            if _shape(op.input) == _shape(op.result):
                rewriter.replace(op, [], [op.input])
            elif isinstance(op.input, OpResult) and isinstance(op.input.owner, hg.ReshapeOp):
                rewriter.replace(op, hg.ReshapeOp(op.input.owner.input, _shape(op.result)))
            return
        if isinstance(op, hg.TransposeOp) and isinstance(op.input, OpResult) and isinstance(op.input.owner, hg.TransposeOp):
            inner = op.input.owner
            p = [int(v) for v in inner.perm.get_values()]
            q = [int(v) for v in op.perm.get_values()]
            composed = [p[k] for k in q]
            if composed == list(range(len(composed))):
                rewriter.replace(op, [], [inner.input])
            else:
                rewriter.replace(op, hg.TransposeOp(inner.input, composed))


_FOLD = {
    hg.AddOp: np.add, hg.SubOp: np.subtract, hg.MulOp: np.multiply, hg.DivOp: np.divide,
    hg.MinOp: np.minimum, hg.MaxOp: np.maximum, hg.AbsOp: np.abs, hg.NegOp: np.negative,
    hg.ReluOp: lambda a: np.maximum(a, 0), hg.SqrtOp: np.sqrt, hg.ExpOp: np.exp,
}


class FoldConstants(RewritePattern):
    """An op over constants only (not a fill: that is already the cheapest form) is evaluated."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, hg.VectorOp) or isinstance(op, hg.FillOp) or not op.operands:
            return
        values = [const_of(v) for v in op.operands]
        if any(v is None for v in values):
            return
        if isinstance(op, hg.TransposeOp):
            out = np.transpose(values[0], [int(p) for p in op.perm.get_values()])
        elif isinstance(op, hg.ReshapeOp):
            out = values[0].reshape(_shape(op.result))  # type: ignore[union-attr]
        elif type(op) in _FOLD:
            with np.errstate(all="ignore"):
                out = _FOLD[type(op)](*values)
        elif isinstance(op, hg.AddScalarOp):
            out = values[0] + op.scalar  # type: ignore[operator]
        elif isinstance(op, hg.MulScalarOp):
            out = values[0] * op.scalar  # type: ignore[operator]
        else:
            return
        e = Emitter(module_of(op), "folded")
        c = e.const(np.asarray(out, np.float32))
        rewriter.replace(op, e.ops, [c])


PATTERNS = (FoldConstants, SubSelf, Idempotent, SigmoidForms, GeluErfForm, TransposeReshapePairs, FoldAffineChain)


def canonicalize_segment(seg) -> None:
    """Apply the patterns, CSE and dead-op removal to one segment, to a fixpoint."""
    from xdsl.transforms.common_subexpression_elimination import cse

    walker = PatternRewriteWalker(GreedyRewritePatternApplier([p() for p in PATTERNS], dce_enabled=False),
                                  apply_recursively=True)
    for _ in range(8):
        before = count_vector_ops(seg)
        walker.rewrite_region(seg.body)
        cse(seg)
        drop_dead_ops(seg)
        if count_vector_ops(seg) == before:
            break


@dataclass(frozen=True)
class CanonicalizeHologramPass(ModulePass):
    """`hologram-canonicalize`: the canonical form of every hologram segment; counts its ops."""

    name = "hologram-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for seg in hologram_segments(op):
            if segment_options(seg)["canonicalize"]:
                canonicalize_segment(seg)
            seg.attributes[CANONICAL] = IntegerAttr(count_vector_ops(seg), 64)

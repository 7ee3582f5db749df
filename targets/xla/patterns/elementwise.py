"""Elementwise ONNX ops -> hlo: arithmetic, comparisons, activations, casts, select.

Broadcasting is numpy's (ONNX multidirectional), made explicit with `broadcast_in_dim`.
Activations are written with the HLO primitives XLA fuses (`logistic`, `erf`, `log_plus_one`).
"""

from __future__ import annotations

import math

from xdsl.ir import Operation, SSAValue

from tsuc.dialects import hlo
from tsuc.targets.xla.builder import HloBuilder, const_value, is_float
from tsuc.targets.xla.patterns.base import OnnxToHlo, attr, inp, out_elem, out_shape, result_used

UNARY = {"Abs": "abs", "Neg": "negate", "Exp": "exponential", "Log": "log", "Sqrt": "sqrt", "Tanh": "tanh",
         "Sigmoid": "logistic", "Erf": "erf", "Floor": "floor", "Ceil": "ceil", "Sign": "sign", "Not": "not",
         "Cos": "cosine", "Sin": "sine", "Round": "round_nearest_even"}
BINARY = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide", "And": "and", "Or": "or", "Xor": "xor"}
VARIADIC = {"Sum": "add", "Max": "maximum", "Min": "minimum", "Mean": "add"}
COMPARE = {"Equal": "EQ", "Less": "LT", "LessOrEqual": "LE", "Greater": "GT", "GreaterOrEqual": "GE"}
FLOAT_ONLY = {"Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "Erf", "Floor", "Ceil", "Cos", "Sin", "Round"}


class LowerUnary(OnnxToHlo):
    op_types = tuple(UNARY)

    def check(self, op: Operation) -> str | None:
        if op.ONNX_OP_TYPE in FLOAT_ONLY and not is_float(out_elem(op)):  # type: ignore[attr-defined]
            return "integer operands"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.unary(UNARY[op.ONNX_OP_TYPE], inp(op, 0))]  # type: ignore[attr-defined]


class LowerBinary(OnnxToHlo):
    op_types = (*BINARY, "Pow")

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x, y = inp(op, 0), inp(op, 1)
        if op.ONNX_OP_TYPE == "Pow":  # type: ignore[attr-defined]
            exponent = const_value(inp(op, 1))
            if exponent is not None and exponent.size == 1 and float(exponent.reshape(-1)[0]) == 2.0:
                return [b.binary("multiply", x, x)]  # exact, and what XLA would do
            return [b.binary("power", x, b.convert(y, hlo.elem(x)))]
        return [b.binary(BINARY[op.ONNX_OP_TYPE], x, y)]  # type: ignore[attr-defined]


class LowerVariadic(OnnxToHlo):
    op_types = tuple(VARIADIC)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        values = list(inp(op, 0))
        acc = values[0]
        for v in values[1:]:
            acc = b.binary(VARIADIC[op.ONNX_OP_TYPE], acc, v)  # type: ignore[attr-defined]
        acc = b.broadcast_to(acc, out_shape(op))
        if op.ONNX_OP_TYPE == "Mean":  # type: ignore[attr-defined]
            acc = b.scalar_op("divide", acc, float(len(values)))
        return [acc]


class LowerCompare(OnnxToHlo):
    op_types = tuple(COMPARE)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.compare(COMPARE[op.ONNX_OP_TYPE], inp(op, 0), inp(op, 1))]  # type: ignore[attr-defined]


class LowerActivation(OnnxToHlo):
    """Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Softplus, Softsign, HardSigmoid, HardSwish, Gelu, Reciprocal."""

    op_types = ("Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid", "HardSwish",
                "Gelu", "Reciprocal", "Mish")

    def check(self, op: Operation) -> str | None:
        if op.ONNX_OP_TYPE != "Relu" and not is_float(out_elem(op)):  # type: ignore[attr-defined]
            return "integer operands"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        t, x = op.ONNX_OP_TYPE, inp(op, 0)  # type: ignore[attr-defined]
        shape, el = out_shape(op), out_elem(op)
        zero = b.splat(0, el, shape)
        if t == "Relu":
            return [b.binary("maximum", x, zero)]
        if t in ("LeakyRelu", "PRelu"):
            slope = b.scalar_op("multiply", x, attr(op, "alpha", 0.01)) if t == "LeakyRelu" else b.binary("multiply", x, inp(op, 1))
            return [b.select(b.compare("GT", x, zero), x, slope)]
        if t in ("Elu", "Selu", "Celu"):
            alpha = attr(op, "alpha", {"Elu": 1.0, "Selu": 1.67326319217681884765625, "Celu": 1.0}[t])
            inner = b.scalar_op("divide", x, alpha) if t == "Celu" else x
            neg = b.scalar_op("multiply", b.unary("exponential_minus_one", inner), alpha)
            y = b.select(b.compare("GT", x, zero), x, neg)
            return [b.scalar_op("multiply", y, attr(op, "gamma", 1.05070102214813232421875)) if t == "Selu" else y]
        if t == "Softplus":  # log(1 + e^x), stable: max(x, 0) + log1p(e^-|x|)
            return [b.binary("add", b.binary("maximum", x, zero),
                             b.unary("log_plus_one", b.unary("exponential", b.unary("negate", b.unary("abs", x)))))]
        if t == "Softsign":
            return [b.binary("divide", x, b.scalar_op("add", b.unary("abs", x), 1.0))]
        if t in ("HardSigmoid", "HardSwish"):
            alpha, beta = (attr(op, "alpha", 0.2), attr(op, "beta", 0.5)) if t == "HardSigmoid" else (1 / 6, 0.5)
            lin = b.scalar_op("add", b.scalar_op("multiply", x, alpha), beta)
            hs = b.add(hlo.ClampOp(b.constant(0.0, el), lin, b.constant(1.0, el)))
            return [hs if t == "HardSigmoid" else b.binary("multiply", x, hs)]
        if t == "Gelu":
            if attr(op, "approximate", "none") == "tanh":
                inner = b.scalar_op("multiply", b.binary("add", x, b.scalar_op("multiply", b.binary("multiply", x, b.binary("multiply", x, x)), 0.044715)),
                                    math.sqrt(2 / math.pi))
                cdf = b.scalar_op("multiply", b.scalar_op("add", b.unary("tanh", inner), 1.0), 0.5)
            else:
                cdf = b.scalar_op("multiply", b.scalar_op("add", b.unary("erf", b.scalar_op("multiply", x, 1 / math.sqrt(2))), 1.0), 0.5)
            return [b.binary("multiply", x, cdf)]
        if t == "Mish":  # x * tanh(softplus(x))
            sp = b.binary("add", b.binary("maximum", x, zero),
                          b.unary("log_plus_one", b.unary("exponential", b.unary("negate", b.unary("abs", x)))))
            return [b.binary("multiply", x, b.unary("tanh", sp))]
        assert t == "Reciprocal"
        return [b.binary("divide", b.splat(1.0, el, shape), x)]


class LowerClip(OnnxToHlo):
    op_types = ("Clip",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        x = inp(op, 0)
        lo, hi = inp(op, 1), inp(op, 2)
        if lo is not None:
            x = b.binary("maximum", x, b.reshape(lo, ()))
        if hi is not None:
            x = b.binary("minimum", x, b.reshape(hi, ()))
        return [x]


class LowerPassThrough(OnnxToHlo):
    """Identity, and Dropout at inference (its mask output, if read, keeps it on the host)."""

    op_types = ("Identity", "Dropout")

    def check(self, op: Operation) -> str | None:
        if op.ONNX_OP_TYPE == "Dropout":  # type: ignore[attr-defined]
            if result_used(op, 1):
                return "its mask output is read"
            if inp(op, 2) is not None and (const_value(inp(op, 2)) is None or bool(const_value(inp(op, 2)).reshape(-1)[0])):
                return "training_mode may be true"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [inp(op, 0)] + [None] * (len(op.results) - 1)  # type: ignore[list-item]


class LowerCast(OnnxToHlo):
    op_types = ("Cast",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.convert(inp(op, 0), out_elem(op))]


class LowerWhere(OnnxToHlo):
    op_types = ("Where",)

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        return [b.select(inp(op, 0), inp(op, 1), inp(op, 2))]


PATTERNS = (LowerUnary, LowerBinary, LowerVariadic, LowerCompare, LowerActivation, LowerClip, LowerPassThrough, LowerCast,
            LowerWhere)

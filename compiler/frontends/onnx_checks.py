"""Static checks onnx's shape inference leaves out, so that a model onnxruntime would only
reject at run time (with its own log line) is refused at compile time in one sentence.

onnx's inference does not check that a Gemm's C broadcasts to (M, N), nor that the operands
of a broadcasting elementwise op are compatible when it cannot infer the output; onnxruntime
loads such a model and fails on the first run.
"""

from __future__ import annotations

import onnx

_BROADCASTING = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
                 "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Where", "Max", "Min", "Sum",
                 "Mean"}


def _static_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    g = model.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if tt is not None and tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = [d.dim_value for d in tt.shape.dim]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    return shapes


def _broadcast(a: list[int], b: list[int]) -> list[int] | None:
    out = []
    for x, y in zip([1] * (len(b) - len(a)) + a, [1] * (len(a) - len(b)) + b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return out


def static_shape_problems(model: onnx.ModelProto) -> list[str]:
    """Problems found in the top-level graph's nodes whose input shapes are all static."""
    shapes = _static_shapes(model)
    problems = []
    for index, node in enumerate(model.graph.node):
        if node.domain not in ("", "ai.onnx"):
            continue
        where = f"node {node.name or f'{node.op_type}_{index}'!r} ({node.op_type})"
        ins = [shapes.get(n) if n else None for n in node.input]
        if node.op_type == "Gemm" and len(ins) == 3 and all(s is not None for s in ins):
            a, b, c = ins
            if len(a) != 2 or len(b) != 2:
                problems.append(f"{where}: A and B must be matrices, got shapes {a} and {b}")
                continue
            attrs = {x.name: x.i for x in node.attribute if x.type == onnx.AttributeProto.INT}
            m, k = (a[1], a[0]) if attrs.get("transA") else (a[0], a[1])
            k2, n = (b[1], b[0]) if attrs.get("transB") else (b[0], b[1])
            if k != k2:
                problems.append(f"{where}: A's inner dimension {k} does not match B's {k2}")
            elif len(c) > 2 or _broadcast(c, [m, n]) != [m, n]:
                problems.append(f"{where}: the bias C of shape {c} does not broadcast to the output shape {[m, n]}")
        elif node.op_type in _BROADCASTING and len(ins) >= 2 and all(s is not None for s in ins):
            out = ins[0]
            for s in ins[1:]:
                out = _broadcast(out, s) if out is not None else None
            if out is None:
                problems.append(f"{where}: input shapes {ins} do not broadcast together")
    return problems

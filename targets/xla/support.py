"""What the xla target runs: a static-shape ONNX op whose pattern accepts it.

`xla_support(op)` returns None when `op` lowers to hlo, else one sentence saying why not;
`XlaTarget.supports`, the compile notes and `fallback=error` all use it.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from tsuc.compiler.types import numpy_dtype
from tsuc.errors import UnsupportedError
from tsuc.targets.xla.patterns import pattern_for

ELEMENT_TYPES = {"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}


def _type_problem(ty) -> str | None:
    if not isinstance(ty, TensorType):
        return "a value is not a ranked tensor (sequence, optional or unknown rank)"
    if any(d < 0 for d in ty.get_shape()):
        return "a shape is data-dependent or dynamic"
    try:
        name = numpy_dtype(ty.element_type).name
    except UnsupportedError:
        name = str(ty.element_type)
    if name not in ELEMENT_TYPES:
        return f"element type {name}"
    return None


def xla_support(op: Operation) -> str | None:
    op_type = getattr(op, "ONNX_OP_TYPE", None)
    if op_type is None:
        return f"{op.name} is not an ONNX op"
    for v in list(op.operands) + list(op.results):
        problem = _type_problem(v.type)
        if problem is not None:
            return problem
    pattern = pattern_for().get(op_type)
    if pattern is None:
        return f"no hlo lowering for {op_type}"
    return pattern.check(op)

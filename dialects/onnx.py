"""The `onnx` dialect: one xDSL op per default-domain ONNX operator, generated from onnx.defs.

As onnx-mlir does with its TableGen generator, the op classes come from the operator schemas
themselves, here at import time, so every default-domain op of the importer's opset
(`OPSET`) is representable and verified: operand and result arity (single, optional,
variadic, with `operandSegmentSizes` where more than one is optional or variadic), tensor
operand types, and the presence and kind of every attribute. Ops print in MLIR's generic
form, `%y = "onnx.Conv"(%x, %w, %b) {...} : (...) -> ...`, and carry the ONNX node name as
their location, `loc("conv1/Conv")`, which diagnostics quote.

Attribute kinds: INT -> i64 IntegerAttr, FLOAT -> f32 FloatAttr, STRING -> StringAttr,
INTS/FLOATS/STRINGS -> ArrayAttr, TENSOR -> `dense_resource<handle>` (weights live in the
blob store, see `tsuc.compiler.blobs`) or a small inline `dense<...>`, GRAPH (If, Loop,
Scan bodies) -> `dense_resource<handle> : tensor<Nxi8>` holding the serialised GraphProto.
"""

from __future__ import annotations

import keyword
from functools import cache
from typing import ClassVar

import onnx.defs
from onnx.defs import OpSchema
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnrankedTensorType,
)
from xdsl.ir import Dialect
from xdsl.irdl import (
    AnyAttr,
    AttrSizedOperandSegments,
    AttrSizedResultSegments,
    IRDLOperation,
    attr_def,
    base,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    opt_operand_def,
    opt_result_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure

OPSET = onnx.defs.onnx_opset_version()
"""The newest default-domain opset the installed onnx defines: the dialect models every op
at its newest schema up to it."""

MIN_OPSET = 21
"""Models older than this are converted up to it (the targets' lowerings are written against
the modern forms of ops); newer ones are imported at their own opset."""

_ATTR_CONSTRAINTS = {
    OpSchema.AttrType.INT: base(IntegerAttr),
    OpSchema.AttrType.FLOAT: base(FloatAttr),
    OpSchema.AttrType.STRING: base(StringAttr),
    OpSchema.AttrType.INTS: base(ArrayAttr),
    OpSchema.AttrType.FLOATS: base(ArrayAttr),
    OpSchema.AttrType.STRINGS: base(ArrayAttr),
    OpSchema.AttrType.TENSOR: base(DenseResourceAttr) | base(DenseIntOrFPElementsAttr),
    OpSchema.AttrType.GRAPH: base(DenseResourceAttr),
}

_RESERVED = set(dir(IRDLOperation)) | {"name", "traits", "irdl_options", "assembly_format"}


def field_name(onnx_name: str, taken: set[str]) -> str:
    """A Python identifier for an ONNX input/output/attribute name that clashes with nothing."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in onnx_name) or "arg"
    if name[0].isdigit():
        name = "_" + name
    while name in _RESERVED or keyword.iskeyword(name) or name in taken:
        name += "_"
    taken.add(name)
    return name


def _value_constraint(type_str: str, schema: OpSchema):
    """Tensor-typed formals must be tensors; sequence/optional-typed ones accept any type."""
    allowed = next((c.allowed_type_strs for c in schema.type_constraints if c.type_param_str == type_str), [type_str])
    if all(t.startswith("tensor(") for t in allowed):
        return base(TensorType) | base(UnrankedTensorType)
    return AnyAttr()


def _formal_def(formal: OpSchema.FormalParameter, schema: OpSchema, single, optional, variadic):
    """The IRDL operand/result definition of one ONNX formal parameter."""
    constraint = _value_constraint(formal.type_str, schema)
    if formal.option == OpSchema.FormalParameterOption.Optional:
        return optional(constraint)
    if formal.option == OpSchema.FormalParameterOption.Variadic:
        return variadic(constraint)
    return single(constraint)


def _make_op_class(schema: OpSchema) -> type[IRDLOperation]:
    fields: dict[str, object] = {"name": f"onnx.{schema.name}"}
    taken: set[str] = set()
    operand_names: list[tuple[str, str]] = []
    result_names: list[tuple[str, str]] = []
    opts = []
    n_multi_in = sum(f.option != OpSchema.FormalParameterOption.Single for f in schema.inputs)
    n_multi_out = sum(f.option != OpSchema.FormalParameterOption.Single for f in schema.outputs)
    for formal in schema.inputs:
        py = field_name(formal.name, taken)
        fields[py] = _formal_def(formal, schema, operand_def, opt_operand_def, var_operand_def)
        operand_names.append((py, formal.name))
    for formal in schema.outputs:
        py = field_name(formal.name, taken)
        fields[py] = _formal_def(formal, schema, result_def, opt_result_def, var_result_def)
        result_names.append((py, formal.name))
    attr_names: dict[str, str] = {}
    for attr in schema.attributes.values():
        py = field_name(attr.name, taken)
        constraint = _ATTR_CONSTRAINTS.get(attr.type, AnyAttr())
        fields[py] = attr_def(constraint, attr_name=attr.name) if attr.required else opt_attr_def(constraint, attr_name=attr.name)
        attr_names[attr.name] = py
    if n_multi_in > 1:
        opts.append(AttrSizedOperandSegments(as_property=True))
    if n_multi_out > 1:
        opts.append(AttrSizedResultSegments(as_property=True))
    if opts:
        fields["irdl_options"] = tuple(opts)
    fields["traits"] = traits_def(Pure())
    fields["__doc__"] = f"ONNX {schema.name} (opset {schema.since_version}); generated from onnx.defs."
    fields["ONNX_OP_TYPE"] = schema.name
    fields["ONNX_SCHEMA"] = schema
    fields["ONNX_OPERANDS"] = tuple(operand_names)
    fields["ONNX_RESULTS"] = tuple(result_names)
    fields["ONNX_ATTRS"] = attr_names
    fields["LOCAL_VERIFY"] = True  # verification reads only the op itself (see tsuc.compiler.verifier)
    fields["__annotations__"] = {k: ClassVar[object] for k in ("ONNX_OP_TYPE", "ONNX_SCHEMA", "ONNX_OPERANDS", "ONNX_RESULTS", "ONNX_ATTRS",
                                                                "LOCAL_VERIFY")}
    fields["__module__"] = __name__
    cls = type(f"{schema.name}Op", (IRDLOperation,), fields)
    return irdl_op_definition(cls)


@cache
def onnx_schemas() -> dict[str, OpSchema]:
    """The latest schema of every default-domain op at `OPSET`, by op type."""
    schemas: dict[str, OpSchema] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain not in ("", "ai.onnx") or schema.since_version > OPSET or schema.deprecated:
            continue
        best = schemas.get(schema.name)
        if best is None or schema.since_version > best.since_version:
            schemas[schema.name] = schema
    return dict(sorted(schemas.items()))


@cache
def op_classes() -> dict[str, type[IRDLOperation]]:
    """Generated op classes by ONNX op type (`"Conv"` -> `onnx.Conv`)."""
    return {name: cls for name in onnx_schemas() if (cls := op_class(name)) is not None}


@cache
def op_class(op_type: str) -> type[IRDLOperation] | None:
    """The generated class of one op type, made on first use: importing a model needs the
    dozen op types it holds, not all ~200 (generating them all took ~60 ms per compile).
    `op_classes()` and the dialect hand out these same class objects."""
    schema = onnx_schemas().get(op_type)
    return None if schema is None else _make_op_class(schema)


def is_onnx_op(op: object) -> bool:
    return getattr(op, "ONNX_OP_TYPE", None) is not None


@cache
def get_onnx_dialect() -> Dialect:
    return Dialect("onnx", list(op_classes().values()), [])


ONNX = get_onnx_dialect

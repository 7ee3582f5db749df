"""The `onnxnode` dialect: ONNX nodes and values the core IR does not model, carried whole.

The generated `onnx` dialect models default-domain ops on tensors of numpy element types.
Everything else a model may hold still has to reach the host segment intact, because
onnxruntime runs it:

* values of other ONNX types (sequences, optionals, maps, STRING or float8/int4 tensors) get
  the opaque type `!onnxnode.value<"seq(tensor(float))", "<base64 TypeProto>">`;
* nodes with subgraphs (If, Loop, Scan, SequenceMap), nodes of other domains (`ai.onnx.ml`),
  nodes that read or produce opaque values, and nodes of an older opset whose schema differs
  from the dialect's become `onnxnode.node`: the NodeProto itself (in the blob store) with its
  operands and results. Values a subgraph reads from the enclosing graph are extra operands
  (`captures` names them), so partitioning and dead-code removal see the dependency, and the
  exporter renames them inside the subgraphs to whatever the segment calls them.

Targets never match these ops (no `onnx.*` name), so they always land in host segments.
"""

from __future__ import annotations

import base64
from typing import ClassVar

import onnx
from xdsl.dialects.builtin import ArrayAttr, DenseResourceAttr, IntegerAttr, StringAttr
from xdsl.ir import Dialect, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    attr_def,
    irdl_attr_definition,
    irdl_op_definition,
    param_def,
    var_operand_def,
    var_result_def,
)
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class ValueType(ParametrizedAttribute, TypeAttribute):
    """An ONNX value type the core IR cannot express; `proto` is the serialised TypeProto."""

    name = "onnxnode.value"
    desc: StringAttr = param_def(StringAttr)
    proto: StringAttr = param_def(StringAttr)

    @staticmethod
    def from_proto(tp: onnx.TypeProto) -> ValueType:
        desc = _describe(tp)
        return ValueType(StringAttr(desc), StringAttr(base64.b64encode(tp.SerializeToString()).decode("ascii")))

    def type_proto(self) -> onnx.TypeProto:
        tp = onnx.TypeProto()
        tp.ParseFromString(base64.b64decode(self.proto.data))
        return tp


def _describe(tp: onnx.TypeProto) -> str:
    """`tensor(string)`, `seq(tensor(float))`, `optional(seq(tensor(int64)))`, `map(int64,tensor(float))`."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({_elem(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({_elem(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({_describe(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({_describe(tp.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({_elem(tp.map_type.key_type)},{_describe(tp.map_type.value_type)})"
    return "unknown"


def _elem(code: int) -> str:
    if code == 0:
        return "undefined"
    return onnx.TensorProto.DataType.Name(code).lower() if code in onnx.TensorProto.DataType.values() else str(code)


@irdl_op_definition
class NodeOp(IRDLOperation):
    """One ONNX node kept as its NodeProto.

    `input_slots[k]` is the operand index of the node's k-th input, or -1 where the node
    leaves an optional input out; `output_slots` likewise for results. Operands after the
    inputs are the outer values the node's subgraphs read, named in `captures` as the
    subgraphs know them."""

    name = "onnxnode.node"
    args = var_operand_def()
    outs = var_result_def()
    op_type = attr_def(StringAttr)
    domain = attr_def(StringAttr)
    proto = attr_def(DenseResourceAttr)
    input_slots = attr_def(ArrayAttr[IntegerAttr])
    output_slots = attr_def(ArrayAttr[IntegerAttr])
    captures = attr_def(ArrayAttr[StringAttr])
    LOCAL_VERIFY: ClassVar[bool] = True  # verify_ reads only the op itself (see tsuc.compiler.verifier)

    def verify_(self) -> None:
        ins = [k.value.data for k in self.input_slots.data]
        outs = [k.value.data for k in self.output_slots.data]
        present = [k for k in ins if k >= 0]
        if present != list(range(len(present))) or len(present) + len(self.captures.data) != len(self.args):
            raise VerifyException(f"onnxnode.node {self.op_type.data}: input_slots {ins} and {len(self.captures.data)} capture(s) "
                                  f"do not account for its {len(self.args)} operand(s) in order")
        produced = [k for k in outs if k >= 0]
        if produced != list(range(len(self.outs))):
            raise VerifyException(f"onnxnode.node {self.op_type.data}: output_slots {outs} do not name its {len(self.outs)} result(s) in order")


ONNX_NODE = Dialect("onnxnode", [NodeOp], [ValueType])

"""`onnx` dialect -> ONNX protos: the way back, for host segments and per-node evaluation.

A host segment's body is rebuilt as an ONNX graph: generated ops map 1:1 to nodes (their
location gives the node name back), `onnx.Constant` ops with tensor values become
initializers, block arguments and yielded values become graph inputs and outputs. Weights can
be left out of the proto (`external=True`) and handed over separately, which is how the
artifact stores them (as `.npy` members).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    NameLoc,
    StringAttr,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from tsuc.compiler.blobs import BlobStore, attr_value, module_of
from tsuc.compiler.subgraphs import defined_names, rename_outer, subgraphs
from tsuc.compiler.types import numpy_dtype, onnx_elem_type, shape_of
from tsuc.dialects.onnx import MIN_OPSET, is_onnx_op
from tsuc.dialects.onnx_node import NodeOp, ValueType
from tsuc.errors import TsucError

IR_VERSION = 10


def node_name(op: Operation) -> str:
    loc = op.location
    if isinstance(loc, NameLoc):
        return loc.desc.data
    return ""


def value_info(name: str, ty: Attribute) -> onnx.ValueInfoProto:
    if isinstance(ty, ValueType):
        return helper.make_value_info(name, ty.type_proto())
    elem = onnx_elem_type(ty.get_element_type())  # type: ignore[attr-defined]
    shape = shape_of(ty)
    dims = None if shape is None else [d if d is not None else f"d{i}" for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, elem, dims)


def attribute_proto(name: str, attr: Attribute, store: BlobStore | None, where: str) -> AttributeProto:
    if isinstance(attr, IntegerAttr):
        return helper.make_attribute(name, int(attr.value.data), attr_type=AttributeProto.INT)
    if isinstance(attr, FloatAttr):
        return helper.make_attribute(name, float(attr.value.data), attr_type=AttributeProto.FLOAT)
    if isinstance(attr, StringAttr):
        return helper.make_attribute(name, attr.data, attr_type=AttributeProto.STRING)
    if isinstance(attr, ArrayAttr):
        items = list(attr.data)
        if all(isinstance(a, IntegerAttr) for a in items):
            return helper.make_attribute(name, [int(a.value.data) for a in items], attr_type=AttributeProto.INTS)
        if all(isinstance(a, FloatAttr) for a in items):
            return helper.make_attribute(name, [float(a.value.data) for a in items], attr_type=AttributeProto.FLOATS)
        if all(isinstance(a, StringAttr) for a in items):
            return helper.make_attribute(name, [a.data for a in items], attr_type=AttributeProto.STRINGS)
    if isinstance(attr, (DenseResourceAttr, DenseIntOrFPElementsAttr)):
        value = attr_value(attr, store)
        if value is None:
            raise TsucError(f"{where}: the data of {name} ({attr.resource_handle.data}) is not available; text IR carries handles only")  # type: ignore[union-attr]
        if isinstance(attr, DenseResourceAttr) and name in _GRAPH_ATTRS:
            graph = onnx.GraphProto()
            graph.ParseFromString(value.tobytes())
            return helper.make_attribute(name, graph)
        return helper.make_attribute(name, numpy_helper.from_array(np.asarray(value, dtype=numpy_dtype(attr.get_type().get_element_type()))))
    raise TsucError(f"{where}: attribute {name} of kind {attr.name} has no ONNX form")


_GRAPH_ATTRS = {"then_branch", "else_branch", "body"}


def node_proto(op: Operation, names: dict[SSAValue, str], store: BlobStore | None) -> onnx.NodeProto:
    """The NodeProto of a generated `onnx.*` op; `names` maps SSA values to tensor names."""
    where = f"node {node_name(op) or op.name!r} ({op.name})"
    inputs: list[str] = []
    for py, _onnx in op.ONNX_OPERANDS:  # type: ignore[attr-defined]
        group = getattr(op, py)
        if group is None:
            inputs.append("")
        elif isinstance(group, SSAValue):
            inputs.append(names[group])
        else:
            inputs.extend(names[v] for v in group)
    while inputs and inputs[-1] == "":
        inputs.pop()
    outputs: list[str] = []
    for py, _onnx in op.ONNX_RESULTS:  # type: ignore[attr-defined]
        group = getattr(op, py)
        if group is None:  # an optional output the node leaves out keeps its place as ""
            outputs.append("")
        elif isinstance(group, SSAValue):
            outputs.append(names[group])
        else:
            outputs.extend(names[v] for v in group)
    while outputs and outputs[-1] == "":
        outputs.pop()
    attrs = [attribute_proto(k, v, store, where) for k, v in op.attributes.items() if k in op.ONNX_SCHEMA.attributes]  # type: ignore[attr-defined]
    node = helper.make_node(op.ONNX_OP_TYPE, inputs, outputs, name=node_name(op))  # type: ignore[attr-defined]
    node.attribute.extend(attrs)
    return node


def _node_of(op: NodeOp, store: BlobStore | None) -> onnx.NodeProto:
    data = attr_value(op.proto, store)
    if data is None:
        raise TsucError(f"node {node_name(op) or op.op_type.data!r}: its NodeProto is not available; text IR carries handles only")
    node = onnx.NodeProto()
    node.ParseFromString(np.asarray(data, dtype=np.uint8).tobytes())
    return node


def whole_node_proto(op: NodeOp, names: dict[SSAValue, str], store: BlobStore | None) -> onnx.NodeProto:
    """The NodeProto of an `onnxnode.node`, its inputs, outputs and captured outer names renamed."""
    node = _node_of(op, store)
    operands = list(op.operands)
    results = list(op.results)
    node.input.extend(names[operands[k.value.data]] if k.value.data >= 0 else "" for k in op.input_slots.data)
    node.output.extend(names[results[k.value.data]] if k.value.data >= 0 else "" for k in op.output_slots.data)
    n_inputs = sum(k.value.data >= 0 for k in op.input_slots.data)
    mapping = {c.data: names[v] for c, v in zip(op.captures.data, operands[n_inputs:]) if c.data != names[v]}
    if mapping:
        for sub in subgraphs(node):
            rename_outer(sub, mapping)
    return node


def opset_imports(block: Block) -> tuple[list[onnx.OperatorSetIdProto], int]:
    """The opsets (and IR version) a host graph cut from `block` is stamped with: the
    imported model's, or `MIN_OPSET` for modules that did not come from ONNX."""
    from tsuc.compiler.frontends.onnx_import import IR_VERSION_ATTR, OPSETS

    module = module_of(block.parent_op()) if block.parent_op() is not None else None
    opsets: dict[str, int] = {"": MIN_OPSET}
    ir_version = IR_VERSION
    if module is not None and OPSETS in module.attributes:
        opsets = {("" if k == "ai.onnx" else k): v.value.data for k, v in module.attributes[OPSETS].data.items()}  # type: ignore[attr-defined]
        opsets.setdefault("", MIN_OPSET)
        ir_version = max(IR_VERSION, module.attributes[IR_VERSION_ATTR].value.data)  # type: ignore[attr-defined]
    return [helper.make_opsetid(k, v) for k, v in sorted(opsets.items())], ir_version


@dataclass
class GraphExport:
    """The result of exporting a block: the model and the weights kept outside it."""

    model: onnx.ModelProto
    external: dict[str, np.ndarray] = field(default_factory=dict)  # initializer name -> array


def export_block(block: Block, arg_names: list[str], result_values: list[SSAValue], result_names: list[str],
                 store: BlobStore | None, external: bool = False, name: str = "tsuc", extra_outputs: dict[SSAValue, str] | None = None) -> GraphExport:
    """An ONNX model computing `result_values` from `block`'s arguments."""
    names: dict[SSAValue, str] = {arg: n for arg, n in zip(block.args, arg_names)}
    counter = 0
    nodes: list[onnx.NodeProto] = []
    initializers: list[TensorProto] = []
    kept: dict[str, np.ndarray] = {}
    used_names: set[str] = set()
    # fresh names stay clear of every name a carried subgraph defines, which would shadow them
    reserved: set[str] = set()
    for op in block.ops:
        if isinstance(op, NodeOp) and op.captures.data:
            for sub in subgraphs(_node_of(op, store)):
                reserved |= defined_names(sub)

    def fresh(prefix: str) -> str:
        nonlocal counter
        name = f"{prefix}{counter}"
        counter += 1
        while name in reserved:
            name = f"{prefix}{counter}"
            counter += 1
        return name

    renamed = dict(zip(result_values, result_names))
    if extra_outputs:
        for v, n in extra_outputs.items():
            renamed.setdefault(v, n)
    for op in block.ops:
        if op.name == "onnx.Constant" and isinstance(op.attributes.get("value"), (DenseResourceAttr, DenseIntOrFPElementsAttr)):
            value = op.results[0]
            tname = renamed.get(value) or _constant_name(op, counter)
            counter += 1
            names[value] = tname
            array = attr_value(op.attributes["value"], store)
            if array is None:
                raise TsucError(f"constant {tname!r}: its data is not available; text IR carries handles only")
            array = np.asarray(array, dtype=numpy_dtype(value.type.get_element_type()))  # type: ignore[attr-defined]
            if external and array.size > 16:
                initializers.append(_external_tensor(tname, array))
                kept[tname] = array
            else:
                initializers.append(numpy_helper.from_array(array, tname))
            continue
        if not is_onnx_op(op) and not isinstance(op, NodeOp):
            if op.has_trait(_terminator()):
                continue
            raise TsucError(f"op {op.name} at {node_name(op) or 'an unnamed location'} cannot run on the host")
        for r in op.results:
            names[r] = renamed.get(r) or fresh("t")
        node = whole_node_proto(op, names, store) if isinstance(op, NodeOp) else node_proto(op, names, store)
        if node.name:  # ops a rewrite split from one node share its location; ONNX wants unique names
            base, k = node.name, 1
            while node.name in used_names:
                node.name, k = f"{base}/{k}", k + 1
            used_names.add(node.name)
        nodes.append(node)
    inputs = [value_info(n, a.type) for a, n in zip(block.args, arg_names)]
    outputs = []
    identity_nodes = []
    for v, n in zip(result_values, result_names):
        if names.get(v) != n:  # a block argument or a value already named otherwise
            identity_nodes.append(helper.make_node("Identity", [names[v]], [n], name=f"output_{n}"))
        outputs.append(value_info(n, v.type))
    if extra_outputs:
        for v, n in extra_outputs.items():
            if v not in result_values and v in names and n not in {o.name for o in outputs}:
                outputs.append(value_info(names[v], v.type))
    graph = helper.make_graph(nodes + identity_nodes, name, inputs, outputs, initializer=initializers)
    opsets, ir_version = opset_imports(block)
    model = helper.make_model(graph, opset_imports=opsets, ir_version=ir_version, producer_name="tsuc")
    return GraphExport(model, kept)


def _constant_name(op: Operation, counter: int) -> str:
    attr = op.attributes["value"]
    if isinstance(attr, DenseResourceAttr):
        return attr.resource_handle.data
    return node_name(op) or f"c{counter}"


def _external_tensor(name: str, array: np.ndarray) -> TensorProto:
    """An initializer that declares its data external; the runtime binds the array by name."""
    t = TensorProto()
    t.name = name
    t.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
    t.dims.extend(array.shape)
    t.data_location = TensorProto.EXTERNAL
    for key, val in (("location", "tsuc-weights"), ("offset", "0"), ("length", str(array.nbytes))):
        entry = t.external_data.add()
        entry.key, entry.value = key, val
    return t


def _terminator():
    from xdsl.traits import IsTerminator

    return IsTerminator


def evaluate_node(op: Operation, inputs: list[np.ndarray], store: BlobStore | None) -> list[np.ndarray]:
    """Evaluate one op on constant inputs with onnx's reference evaluator (constant folding)."""
    from onnx.reference import ReferenceEvaluator

    names: dict[SSAValue, str] = {}
    operand_values = list(op.operands)
    for k, v in enumerate(operand_values):
        names[v] = f"i{k}"
    for k, r in enumerate(op.results):
        names[r] = f"o{k}"
    node = node_proto(op, names, store)
    feeds = {f"i{k}": a for k, a in enumerate(inputs)}
    evaluator = ReferenceEvaluator(node)
    return [np.asarray(x) for x in evaluator.run(None, feeds)]

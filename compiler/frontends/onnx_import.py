"""ONNX -> `onnx` dialect.

Loads a model (with its external data), brings it to the importer's opset with onnx's version
converter, fixes dynamic input dimensions the user names (`--input-shape x=1x3x224x224`),
infers shapes, and builds `func.func @main` with one generated `onnx.*` op per node. Node
names become op locations; initializers become `onnx.Constant` ops whose values sit in the
blob store (`dense_resource<handle>`). Every problem found (unknown ops, bad attributes,
missing shapes) is collected and reported in one error.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx
import onnx.shape_inference
import onnx.version_converter
import onnx.external_data_helper
from onnx import AttributeProto, ModelProto, helper, numpy_helper
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseResourceAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    NameLoc,
    NoneAttr,
    StringAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute, Block, Region, SSAValue

from tsuc.compiler.blobs import BlobStore, attach_store
from tsuc.compiler.subgraphs import node_free_names
from tsuc.compiler.types import element_type, has_numpy_dtype, tensor_type
from tsuc.dialects.onnx import MIN_OPSET, OPSET, op_class
from tsuc.dialects.onnx_node import NodeOp, ValueType
from tsuc.errors import TsucError, UnsupportedError

INPUT_NAMES = "tsuc.input_names"
OUTPUT_NAMES = "tsuc.output_names"
OPSETS = "tsuc.onnx_opsets"
"""Module attribute: the model's opset imports (domain -> version) after conversion, which
host segments are stamped with."""
IR_VERSION_ATTR = "tsuc.onnx_ir_version"

_DEFAULT_DOMAINS = ("", "ai.onnx")
_SUBGRAPH_ATTRS = (AttributeProto.GRAPH, AttributeProto.GRAPHS)
_GENERATED_ATTRS = (AttributeProto.INT, AttributeProto.FLOAT, AttributeProto.STRING, AttributeProto.INTS,
                    AttributeProto.FLOATS, AttributeProto.STRINGS, AttributeProto.TENSOR)


def name_loc(name: str) -> NameLoc:
    """`loc("name")`: how an op remembers the ONNX node it came from."""
    return NameLoc(StringAttr(name), NoneAttr())


def load_onnx(path: str) -> ModelProto:
    """Read an ONNX file and its external data; one sentence on failure."""
    if not os.path.isfile(path):
        raise TsucError(f"{path}: no such file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:
        raise TsucError(f"{path}: not an ONNX model (the protobuf could not be parsed)") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise TsucError(f"{path}: not an ONNX model (no graph)")
    try:
        onnx.external_data_helper.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    except Exception as e:  # OSError, onnx's ValidationError for a location outside the model's folder, ...
        raise TsucError(f"{path}: cannot read its external data ({_first_line(e)})") from None
    return model


def _load_light(path: str) -> tuple[ModelProto, Weights]:
    """`load_onnx` for the importer: the model with stubs for its large initializers, and those
    as read-only arrays mapped from the file (`onnx_mmap`), or, when the file is not laid out
    as that reader expects, as the TensorProtos `load_onnx` read."""
    from tsuc.compiler.frontends.onnx_mmap import load_mapped

    if not os.path.isfile(path):
        raise TsucError(f"{path}: no such file")
    mapped = load_mapped(path, _strippable, lambda t: _make_stub(t, t))
    if mapped is None:
        return _split_weights(load_onnx(path))
    model, weights = mapped
    if not model.graph.node and not model.graph.output:
        raise TsucError(f"{path}: not an ONNX model (no graph)")
    helper_ = onnx.external_data_helper
    try:  # what `load_onnx` does, stubs left alone
        for tensor in helper_._get_all_tensors(model):
            if helper_.uses_external_data(tensor) and not _is_stub(tensor):
                helper_.load_external_data_for_tensor(tensor, os.path.dirname(os.path.abspath(path)))
    except Exception as e:
        raise TsucError(f"{path}: cannot read its external data ({_first_line(e)})") from None
    return model, weights


def parse_shape(text: str) -> list[int]:
    """`1x3x224x224` -> [1, 3, 224, 224]."""
    try:
        dims = [int(d) for d in text.lower().split("x")]
    except ValueError:
        raise TsucError(f"input shape {text!r} is not of the form 1x3x224x224") from None
    if any(d < 0 for d in dims):
        raise TsucError(f"input shape {text!r} has a negative dimension")
    if any(d > MAX_DIM for d in dims):
        raise TsucError(f"input shape {text!r} has a dimension larger than {MAX_DIM}")
    return dims


def _check_names(graph: onnx.GraphProto, where: str) -> None:
    """protobuf hands out a string field that is not valid UTF-8 as bytes; refuse such names."""
    def bad(name: object) -> bool:
        return not isinstance(name, str)

    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if bad(vi.name):
            raise TsucError(f"{where}: a value name is not valid UTF-8 ({vi.name[:40]!r})")
    for t in graph.initializer:
        if bad(t.name):
            raise TsucError(f"{where}: an initializer name is not valid UTF-8 ({t.name[:40]!r})")
    for node in graph.node:
        for name in [node.name, node.op_type, node.domain, *node.input, *node.output, *(a.name for a in node.attribute)]:
            if bad(name):
                raise TsucError(f"{where}: node {node.name if isinstance(node.name, str) else '?'!r} has a name that is not valid UTF-8 ({name[:40]!r})")
        for attr in node.attribute:
            for sub in ([attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)):
                _check_names(sub, where)


def default_opset(model: ModelProto) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS), None)


def prepare(model: ModelProto, where: str, input_shapes: dict[str, list[int]] | None = None) -> ModelProto:
    """Opset conversion, user input shapes, shape inference; returns a model with its weights.

    Models older than `MIN_OPSET` are brought up to it with onnx's version converter (the
    targets' lowerings are written against modern op forms). Models at `MIN_OPSET` or newer,
    up to the newest opset the installed onnx defines, are imported as they are, never
    converted down. If the converter cannot convert an old model, or the converted model's
    inputs or outputs differ from the original's, the model is imported at its own opset: its
    ops whose schema changed since are then carried to the host as whole nodes."""
    light, weights = _prepare(model, where, input_shapes)
    return _with_weights(light, weights)


Weights = dict[str, "onnx.TensorProto | np.ndarray"]
"""Large initializers by name, kept out of the model that onnx's tools see (`_split_weights`):
the original TensorProtos, or arrays mapped from the file (`onnx_mmap`)."""


def _prepare(model: ModelProto, where: str, input_shapes: dict[str, list[int]] | None,
             weights: Weights | None = None) -> tuple[ModelProto, Weights]:
    """`prepare` on the weight-stripped model (see `_split_weights`): the prepared model with
    stubs for its large initializers, and those initializers by name. `model` is not changed.
    With `weights`, `model` is already stripped (its stubs stand for `weights`)."""
    _check_names(model.graph, where)
    for o in model.opset_import:
        if not isinstance(o.domain, str):
            raise TsucError(f"{where}: an opset domain is not valid UTF-8 ({o.domain[:40]!r})")
    opset = default_opset(model)
    if opset is not None and opset > OPSET:
        raise UnsupportedError(f"{where}: the model uses ONNX opset {opset}, newer than opset {OPSET}, the newest the "
                               f"installed onnx {onnx.__version__} defines; install a newer onnx to compile it")
    if weights is None:
        light, weights = _split_weights(model)
    else:
        light = model
    if opset is not None and opset < MIN_OPSET and light.graph.node:
        work = ModelProto()
        work.CopyFrom(light)  # stubs only: cheap
        if opset < 7:
            _fix_legacy_prelu(work, weights)
        converted = _convert(work, weights)
        if converted is not None and _same_signature(light, converted[0]):
            light, weights = converted
    if input_shapes:
        _set_input_shapes(light, where, input_shapes)
    light, weights = _infer_shapes(light, weights, where)
    from tsuc.compiler.frontends.onnx_checks import static_shape_problems

    problems = static_shape_problems(light)
    if problems:
        raise UnsupportedError(f"{where}: {len(problems)} problem(s): " + "; ".join(problems[:10]))
    return light, weights


STUB_ELEMENTS = 1024
"""Initializers with at least this many elements travel through onnx's version converter and
shape inference as stubs. The values those read (shapes, axes, pads, scales, repeats, ...)
are far smaller; should one ever read a stub, it fails and the whole model is used instead."""

_STUB_LOCATION = "tsuc:weight-stub"


def _split_weights(model: ModelProto) -> tuple[ModelProto, Weights]:
    """A copy of `model` whose large top-level initializers are stubs, and those initializers
    by name (the originals, not copies).

    onnx's version converter and shape inference serialise the whole model into C++ and parse
    their result back, so on a 100 MB ResNet-50 they spent most of the compile moving weights
    they never read. A stub keeps the name, element type and dims, and is marked as external
    data, which onnx's shape inference refuses to read (`Cannot parse data from external
    tensors`): a stub that some op's inference needs shows up as an error, never as a wrong
    shape. Only the first of same-named initializers (an invalid model) is stubbed."""
    light = ModelProto()
    for field, value in model.ListFields():
        if field.name != "graph":
            _copy_field(light, field, value)
    for field, value in model.graph.ListFields():
        if field.name != "initializer":
            _copy_field(light.graph, field, value)
    weights: Weights = {}
    for tensor in model.graph.initializer:
        if _strippable(tensor) and tensor.name not in weights:
            _make_stub(light.graph.initializer.add(), tensor)
            weights[tensor.name] = tensor
        else:
            light.graph.initializer.add().CopyFrom(tensor)
    return light, weights


def _strippable(tensor: onnx.TensorProto) -> bool:
    """Whether an initializer is large enough, and plain enough, to travel as a stub."""
    return (isinstance(tensor.name, str) and has_numpy_dtype(tensor.data_type)
            and tensor.data_location != onnx.TensorProto.EXTERNAL and not tensor.HasField("segment")
            and all(d >= 0 for d in tensor.dims) and int(np.prod(tensor.dims, dtype=np.float64)) >= STUB_ELEMENTS)


def _make_stub(stub: onnx.TensorProto, tensor: onnx.TensorProto) -> None:
    """Make `stub` (which may be `tensor` itself) the stub of `tensor`: name, type, dims, mark."""
    name, data_type, dims = tensor.name, tensor.data_type, list(tensor.dims)
    stub.Clear()
    stub.name = name
    stub.data_type = data_type
    stub.dims.extend(dims)
    stub.data_location = onnx.TensorProto.EXTERNAL
    entry = stub.external_data.add()
    entry.key, entry.value = "location", _STUB_LOCATION


def _weight_tensor(name: str, weight: onnx.TensorProto | np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(weight, name) if isinstance(weight, np.ndarray) else weight


def _copy_field(dst: Any, field: Any, value: Any) -> None:
    repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED  # protobuf < 6
    if repeated:
        getattr(dst, field.name).extend(value)
    elif field.type == field.TYPE_MESSAGE:
        getattr(dst, field.name).CopyFrom(value)
    else:
        setattr(dst, field.name, value)


def _is_stub(tensor: onnx.TensorProto) -> bool:
    return (tensor.data_location == onnx.TensorProto.EXTERNAL and len(tensor.external_data) == 1
            and tensor.external_data[0].value == _STUB_LOCATION)


def _stubs(model: ModelProto) -> list[tuple[str, tuple[int, ...], int]]:
    return sorted((t.name, tuple(t.dims), t.data_type) for t in model.graph.initializer if _is_stub(t))


def _with_weights(light: ModelProto, weights: Weights) -> ModelProto:
    """`light` with its stubs replaced by the weights (a copy; `light` is not changed)."""
    full = ModelProto()
    full.CopyFrom(light)
    for tensor in full.graph.initializer:
        if _is_stub(tensor):
            tensor.CopyFrom(_weight_tensor(tensor.name, weights[tensor.name]))
    return full


def _convert(work: ModelProto, weights: Weights) -> tuple[ModelProto, Weights] | None:
    """`work` converted to `MIN_OPSET`, or None if onnx's converter cannot.

    The stripped model is converted; if the converter fails on it or does not hand every stub
    back as it was, the whole model is converted instead (the same result, slower). onnx's
    adapters that read initializer values all convert down (axes_input_to_attribute,
    reshape_5_4, split_13_12, upsample_9_8); this conversion only goes up."""
    try:
        converted = onnx.version_converter.convert_version(work, MIN_OPSET)
        if _stubs(converted) == _stubs(work):
            return converted, weights
    except Exception:
        pass
    try:
        converted = onnx.version_converter.convert_version(_with_weights(work, weights), MIN_OPSET)
    except Exception:
        return None  # imported at its own opset
    return _split_weights(converted)


def _infer_shapes(light: ModelProto, weights: Weights, where: str) -> tuple[ModelProto, Weights]:
    """onnx's shape inference (with data propagation) on the stripped model, strictly, so that
    any error, a stub read included, sends it to the whole model instead, inferred as before
    (errors of single nodes ignored, as onnx does by default)."""
    try:
        return onnx.shape_inference.infer_shapes(light, strict_mode=True, data_prop=True), weights
    except Exception:
        pass
    try:
        inferred = onnx.shape_inference.infer_shapes(_with_weights(light, weights), data_prop=True)
    except Exception as e:
        raise TsucError(f"{where}: shape inference failed: {_first_line(e)}") from None
    return _split_weights(inferred)


def _first_line(e: BaseException) -> str:
    """onnx's C++ messages start with a source position and `Assertion ... failed:`; keep the text."""
    import re

    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = re.sub(r"^(\[[^\]]*\]\s*)?(\S+\.(h|cc|cpp):\d+:\s*)?(\w+:\s*)?(Assertion `.*?` failed:\s*)?", "", text)
    return text or type(e).__name__


def _same_signature(old: ModelProto, new: ModelProto) -> bool:
    """Whether conversion kept the graph inputs and outputs (opset-8 Scan loses its batch axis)."""
    def sig(m: ModelProto):
        init = {t.name for t in m.graph.initializer}
        return ([(i.name, i.type.SerializeToString()) for i in m.graph.input if i.name not in init],
                [(o.name, o.type.SerializeToString()) for o in m.graph.output])
    return sig(old) == sig(new)


def _fix_legacy_prelu(model: ModelProto, weights: Weights) -> None:
    """Before opset 7 PRelu broadcast a 1-D slope along axis 1; the version converter keeps the
    slope as is, which numpy-style broadcasting then applies along the last axis. Reshape such
    slopes to [C, 1, ..., 1] so the converted model means what the original meant."""
    inits = {t.name: t for t in model.graph.initializer}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in model.graph.input if vi.type.tensor_type.HasField("shape")}
    for node in model.graph.node:
        if node.op_type != "PRelu" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        slope = inits[node.input[1]]
        rank = ranks.get(node.input[0])
        if len(slope.dims) == 1 and slope.dims[0] > 1 and rank is not None and rank >= 3:
            array = numpy_helper.to_array(_weight_tensor(slope.name, weights[slope.name]) if _is_stub(slope) else slope).reshape([slope.dims[0]] + [1] * (rank - 2))
            slope.CopyFrom(numpy_helper.from_array(array, slope.name))
            for vi in model.graph.input:  # old models list initializers as inputs too
                if vi.name == slope.name:
                    vi.type.tensor_type.shape.ClearField("dim")
                    for d in array.shape:
                        vi.type.tensor_type.shape.dim.add().dim_value = d


MAX_DIM = 2**40
"""The largest input dimension `--input-shape` may give (ONNX dims are int64; nothing real is larger)."""


def _set_input_shapes(model: ModelProto, where: str, shapes: dict[str, list[int]]) -> None:
    if not isinstance(shapes, dict) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in v)
            for k, v in shapes.items()):
        raise TsucError(f"{where}: input shapes must be a dict {{input name: [dims as ints]}}, got {str(shapes)[:80]}")
    for name, dims in shapes.items():
        if any(d < 0 or d > MAX_DIM for d in dims):
            raise TsucError(f"{where}: input shape {list(dims)} of {name!r} has a dimension outside 0..{MAX_DIM}")
    init_names = {i.name for i in model.graph.initializer}
    inputs = {i.name: i for i in model.graph.input if i.name not in init_names}
    unknown = sorted(set(shapes) - set(inputs))
    if unknown:
        raise TsucError(f"{where}: --input-shape names {', '.join(unknown)}, but the model's inputs are {', '.join(inputs)}")
    for name, dims in shapes.items():
        tensor = inputs[name].type.tensor_type
        old = tensor.shape.dim
        if tensor.HasField("shape") and len(old) != len(dims):
            raise TsucError(f"{where}: input {name!r} has rank {len(old)}, --input-shape gives rank {len(dims)}")
        for k, (d, new) in enumerate(zip(old, dims)):
            if d.HasField("dim_value") and d.dim_value != new:
                raise TsucError(f"{where}: input {name!r} dimension {k} is fixed at {d.dim_value}, --input-shape gives {new}")
        tensor.shape.ClearField("dim")
        for new in dims:
            tensor.shape.dim.add().dim_value = new


def _value_type(vi: onnx.ValueInfoProto | None, where: str) -> Attribute | None:
    """A tensor type for tensors of numpy element types; `!onnxnode.value` for any other
    ONNX type; None when the type is unknown."""
    if vi is None or vi.type.WhichOneof("value") is None:
        return None
    if not vi.type.HasField("tensor_type"):
        return ValueType.from_proto(vi.type)
    tt = vi.type.tensor_type
    if tt.elem_type == 0:
        return None
    if not has_numpy_dtype(tt.elem_type):
        return ValueType.from_proto(vi.type)
    elem = element_type(tt.elem_type, where)
    if not tt.HasField("shape"):
        return tensor_type(elem, None)
    return tensor_type(elem, [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim])


_UNKNOWN = onnx.TypeProto()


class _Importer:
    def __init__(self, model: ModelProto, where: str, weights: Weights | None = None):
        self.model = model
        self.weights = weights or {}
        self.where = where
        self.store = BlobStore()
        self.values: dict[str, SSAValue] = {}
        self.problems: list[str] = []
        self.poisoned: set[str] = set()
        graph = model.graph
        self.opset = default_opset(model)
        self.legacy = self.opset is not None and self.opset < MIN_OPSET  # kept at its own (old) opset
        self.types: dict[str, onnx.ValueInfoProto] = {}
        for vi in list(graph.value_info) + list(graph.output) + list(graph.input):
            self.types[vi.name] = vi

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)

    def run(self) -> ModuleOp:
        graph = self.model.graph
        init_names = {t.name for t in graph.initializer}
        inputs = [i for i in graph.input if i.name not in init_names]
        arg_types = []
        for vi in inputs:
            ty = _value_type(vi, f"{self.where}: input {vi.name!r}")
            if ty is None:
                self.problem(f"input {vi.name!r} has no type")
                ty = tensor_type(f32, None)
            arg_types.append(ty)
        block = Block(arg_types=arg_types)
        for vi, arg in zip(inputs, block.args):
            self.values[vi.name] = arg
        for tensor in graph.initializer:
            if _is_stub(tensor) and tensor.name in self.weights:
                weight = self.weights[tensor.name]
                if isinstance(weight, np.ndarray):  # mapped from the file: already the array
                    block.add_op(self.constant(tensor.name, weight, tensor.data_type))
                    continue
                tensor = weight
            if has_numpy_dtype(tensor.data_type):
                block.add_op(self.constant(tensor.name, self.initializer_array(tensor), tensor.data_type))
            else:  # STRING, float8, int4, ...: a Constant node carried to the host whole
                const = helper.make_node("Constant", [], [tensor.name], name=tensor.name, value=tensor)
                op = self.generic(const, tensor.name, f"initializer {tensor.name!r}")
                if op is not None:
                    block.add_op(op)
        for index, node in enumerate(graph.node):
            op = self.node(node, index)
            if op is not None:
                block.add_op(op)
            else:  # reported once; later nodes reading its outputs are not reported again
                self.poisoned.update(node.output)
        outputs = []
        for vi in graph.output:
            value = self.values.get(vi.name)
            if value is None and vi.name in self.poisoned:
                continue
            if value is None:
                self.problem(f"graph output {vi.name!r} is produced by no node")
            else:
                outputs.append(value)
        if self.problems:
            more = " (and more)" if len(self.problems) >= 50 else ""
            raise UnsupportedError(f"{self.where}: {len(self.problems)} problem(s): " + "; ".join(self.problems) + more)
        block.add_op(func.ReturnOp(*outputs))
        fn = func.FuncOp("main", (arg_types, [v.type for v in outputs]), Region(block))
        fn.attributes[INPUT_NAMES] = ArrayAttr([StringAttr(vi.name) for vi in inputs])
        fn.attributes[OUTPUT_NAMES] = ArrayAttr([StringAttr(vi.name) for vi in graph.output])
        module = ModuleOp([fn])
        opsets = {(o.domain or "ai.onnx"): o.version for o in self.model.opset_import}  # MLIR wants no empty key
        module.attributes[OPSETS] = DictionaryAttr({k: IntegerAttr(v, i64) for k, v in sorted(opsets.items())})
        module.attributes[IR_VERSION_ATTR] = IntegerAttr(self.model.ir_version, i64)
        attach_store(module, self.store)
        return module

    def constant(self, name: str, array: np.ndarray, onnx_type: int):
        elem = element_type(onnx_type, f"{self.where}: initializer {name!r}")
        handle = self.store.add(array, name)
        ty = tensor_type(elem, list(array.shape))
        op = op_class("Constant").create(result_types=[ty], attributes={"value": DenseResourceAttr.from_params(handle, ty)})
        op.location = name_loc(name)
        self.values[name] = op.results[0]
        return op

    def initializer_array(self, tensor: onnx.TensorProto) -> np.ndarray:
        try:
            array = numpy_helper.to_array(tensor)
        except Exception as e:
            raise TsucError(f"{self.where}: initializer {tensor.name!r} cannot be read ({_first_line(e)})") from None
        if list(array.shape) != list(tensor.dims):
            raise TsucError(f"{self.where}: initializer {tensor.name!r} holds {array.size} values, its dims {list(tensor.dims)} need "
                            f"{int(np.prod(tensor.dims, dtype=object))}")
        return array

    def carried_whole(self, node: onnx.NodeProto, cls: type | None) -> bool:
        """Whether `node` becomes an `onnxnode.node` rather than a generated `onnx.*` op."""
        if node.domain not in _DEFAULT_DOMAINS or cls is None:
            return True
        if any(a.type not in _GENERATED_ATTRS for a in node.attribute):
            return True  # subgraphs, sparse tensors, type protos
        if any(a.type == AttributeProto.TENSOR and not has_numpy_dtype(a.t.data_type) for a in node.attribute):
            return True
        if any(n and isinstance(getattr(self.values.get(n), "type", None), ValueType) for n in node.input):
            return True
        if any(n and (n in self.types and isinstance(_value_type(self.types[n], self.where), ValueType)) for n in node.output):
            return True
        if any(n and _value_type(self.types.get(n), self.where) is None for n in node.output):
            return True  # onnx infers no type: the host will know at run time
        if self.legacy:
            try:
                own = onnx.defs.get_schema(node.op_type, self.opset, node.domain)
            except Exception:
                return True
            return own.since_version != cls.ONNX_SCHEMA.since_version
        return False

    def generic(self, node: onnx.NodeProto, label: str, where: str) -> NodeOp | None:
        """`node` as an `onnxnode.node`: its proto in the blob store, its values as operands."""
        operands: list[SSAValue] = []
        in_slots: list[int] = []
        missing = False
        for name in node.input:
            if not name:
                in_slots.append(-1)
                continue
            value = self.value(name, where)
            missing |= value is None
            in_slots.append(len(operands))
            operands.append(value)  # type: ignore[arg-type]
        captures = node_free_names(node)
        for name in captures:
            value = self.value(name, f"{where} subgraph")
            missing |= value is None
            operands.append(value)  # type: ignore[arg-type]
        result_types: list[Attribute] = []
        out_slots: list[int] = []
        names: list[str] = []
        for name in node.output:
            if not name:
                out_slots.append(-1)
                continue
            out_slots.append(len(result_types))
            result_types.append(_value_type(self.types.get(name), self.where) or ValueType.from_proto(_UNKNOWN))
            names.append(name)
        if missing:
            return None
        proto = onnx.NodeProto()
        proto.CopyFrom(node)
        del proto.input[:]
        del proto.output[:]
        data = np.frombuffer(proto.SerializeToString(), dtype=np.uint8)
        ty = tensor_type(element_type(onnx.TensorProto.UINT8, where), [data.size])
        handle = self.store.add(data, f"node_{label}")
        op = NodeOp.create(
            operands=operands, result_types=result_types,
            attributes={"op_type": StringAttr(node.op_type), "domain": StringAttr(node.domain),
                        "proto": DenseResourceAttr.from_params(handle, ty),
                        "input_slots": ArrayAttr([IntegerAttr(k, i64) for k in in_slots]),
                        "output_slots": ArrayAttr([IntegerAttr(k, i64) for k in out_slots]),
                        "captures": ArrayAttr([StringAttr(n) for n in captures])})
        op.location = name_loc(label)
        for name, result in zip(names, op.results):
            self.values[name] = result
        return op

    def node(self, node: onnx.NodeProto, index: int):
        label = node.name or f"{node.op_type}_{index}"
        where = f"node {label!r} ({node.op_type})"
        cls = op_class(node.op_type)
        if cls is None and node.domain in _DEFAULT_DOMAINS and not onnx.defs.has(node.op_type):
            self.problem(f"{where}: unknown op type {node.op_type!r} (not in the ONNX opset {OPSET} this onnx defines)")
            return None
        if self.carried_whole(node, cls):
            return self.generic(node, label, where)
        schema = cls.ONNX_SCHEMA
        operands: list[Any] = []
        pos = 0
        names = list(node.input)
        for formal in schema.inputs:
            option = formal.option
            if option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
                group = [self.value(n, where) for n in names[pos:] if n]
                operands.append(group)
                pos = len(names)
            elif option == onnx.defs.OpSchema.FormalParameterOption.Optional:
                present = pos < len(names) and names[pos] != ""
                operands.append([self.value(names[pos], where)] if present else [])
                pos += 1
            else:
                if pos >= len(names) or not names[pos]:
                    self.problem(f"{where}: required input {formal.name!r} is missing")
                    return None
                operands.append(self.value(names[pos], where))
                pos += 1
        if pos < len(names) and any(names[pos:]):
            self.problem(f"{where}: has {len(names)} inputs, its schema takes {pos}")
            return None
        missing_operand = any(v is None for group in operands for v in (group if isinstance(group, list) else [group]))
        result_types: list[Any] = []
        result_names: list[str] = []
        outs = list(node.output)
        pos = 0
        for formal in schema.outputs:
            option = formal.option
            if option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
                group_names = [n for n in outs[pos:] if n]
                result_types.append([self.result_type(n, where) for n in group_names])
                result_names += group_names
                pos = len(outs)
            elif option == onnx.defs.OpSchema.FormalParameterOption.Optional:
                present = pos < len(outs) and outs[pos] != ""
                result_types.append([self.result_type(outs[pos], where)] if present else [])
                if present:
                    result_names.append(outs[pos])
                pos += 1
            else:
                name = outs[pos] if pos < len(outs) else ""
                result_types.append(self.result_type(name, where))
                result_names.append(name)
                pos += 1
        attributes = {}
        for attr in node.attribute:
            if attr.name not in schema.attributes:
                self.problem(f"{where}: unknown attribute {attr.name!r}")
                continue
            converted = self.attribute(attr, f"{where} attribute {attr.name!r}")
            if converted is not None:
                attributes[attr.name] = converted
        for attr_name, attr_schema in schema.attributes.items():
            if attr_schema.required and attr_name not in attributes:
                self.problem(f"{where}: required attribute {attr_name!r} is missing")
                return None
        if missing_operand:
            return None
        op = cls.build(operands=operands, result_types=result_types, attributes=attributes)
        op.location = name_loc(label)
        for name, result in zip(result_names, op.results):
            if name:
                self.values[name] = result
        return op

    def value(self, name: str, where: str) -> SSAValue | None:
        value = self.values.get(name)
        if value is None and name not in self.poisoned:
            self.problem(f"{where}: input {name!r} is not produced by any earlier node, input or initializer")
        return value

    def result_type(self, name: str, where: str) -> Attribute:
        ty = _value_type(self.types.get(name), f"{self.where}: {where}")
        if ty is None:
            self.problem(f"{where}: the type of output {name!r} could not be inferred")
            return tensor_type(f32, None)
        return ty

    def attribute(self, attr: AttributeProto, where: str) -> Attribute | None:
        T = AttributeProto.AttributeType
        if attr.type == T.INT:
            return IntegerAttr(attr.i, i64)
        if attr.type == T.FLOAT:
            return FloatAttr(attr.f, f32)
        if attr.type == T.STRING:
            return StringAttr(attr.s.decode("utf-8", errors="replace"))
        if attr.type == T.INTS:
            return ArrayAttr([IntegerAttr(v, i64) for v in attr.ints])
        if attr.type == T.FLOATS:
            return ArrayAttr([FloatAttr(v, f32) for v in attr.floats])
        if attr.type == T.STRINGS:
            return ArrayAttr([StringAttr(v.decode("utf-8", errors="replace")) for v in attr.strings])
        if attr.type == T.TENSOR:
            array = numpy_helper.to_array(attr.t)
            elem = element_type(attr.t.data_type, where)
            ty = tensor_type(elem, list(array.shape))
            return DenseResourceAttr.from_params(self.store.add(array, attr.t.name or "const"), ty)
        if attr.type == T.GRAPH:
            data = np.frombuffer(attr.g.SerializeToString(), dtype=np.uint8)
            ty = tensor_type(element_type(onnx.TensorProto.UINT8, where), [data.size])
            return DenseResourceAttr.from_params(self.store.add(data, f"graph_{attr.name}"), ty)
        self.problem(f"{where}: attribute kind {T.Name(attr.type)} is not supported")
        return None


def import_model(model: ModelProto | str, input_shapes: dict[str, list[int]] | None = None,
                 where: str | None = None) -> ModuleOp:
    """ONNX file or ModelProto -> module with `func.func @main` and its blob store attached."""
    weights = None
    if isinstance(model, (str, os.PathLike)):
        where = where or os.fspath(model)
        model, weights = _load_light(os.fspath(model))
    where = where or "<model>"
    light, weights = _prepare(model, where, input_shapes, weights)
    return _Importer(light, where, weights).run()

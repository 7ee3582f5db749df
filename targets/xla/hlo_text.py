"""Print a lowered xla segment (hlo dialect) as XLA HLO text: `HloModule ... ENTRY ...`.

Parameters are the segment's inputs in order, then its weights: every `hlo.constant` backed by
the blob store with more than `INLINE_LIMIT` elements becomes a parameter, so the text never
holds weight bytes and the runtime passes the artifact's `.npy` members (mapped, not copied).
Small constants print as literals. Reduction bodies become named sub-computations. The ROOT
is a tuple of the segment's results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from tsuc.compiler.blobs import BlobStore, attr_value
from tsuc.dialects import hlo
from tsuc.dialects.tsuc import SegmentOp
from tsuc.errors import TsucError
from tsuc.targets.xla.builder import INLINE_LIMIT


def hlo_element(el: Attribute) -> str:
    if isinstance(el, Float32Type):
        return "f32"
    if isinstance(el, Float64Type):
        return "f64"
    if isinstance(el, Float16Type):
        return "f16"
    if isinstance(el, BFloat16Type):
        return "bf16"
    if isinstance(el, IntegerType):
        w = el.width.data
        if w == 1:
            return "pred"
        return f"{'u' if el.signedness.data == Signedness.UNSIGNED else 's'}{w}"
    raise TsucError(f"element type {el} has no HLO equivalent")


def hlo_type(ty: Attribute) -> str:
    assert isinstance(ty, TensorType)
    return f"{hlo_element(ty.element_type)}[{','.join(map(str, ty.get_shape()))}]"


def _literal(arr: np.ndarray) -> str:
    def scalar(v) -> str:
        if arr.dtype == np.bool_:
            return "true" if v else "false"
        if arr.dtype.kind == "f":
            f = float(v)
            if math.isnan(f):
                return "nan"
            if math.isinf(f):
                return "inf" if f > 0 else "-inf"
            return repr(f)
        return str(int(v))

    def nested(a: np.ndarray) -> str:
        if a.ndim == 0:
            return scalar(a.item())
        if a.ndim == 1:
            return "{" + ", ".join(scalar(v) for v in a.tolist()) + "}"
        return "{" + ", ".join(nested(sub) for sub in a) + "}"

    return nested(arr)


def _ints(values) -> str:
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _hyphen(name: str) -> str:
    return name.split(".", 1)[1].replace("_", "-")


@dataclass
class HloModuleText:
    """The printed module and what the runtime needs to call it."""

    text: str
    weights: list[tuple[str, np.ndarray]] = field(default_factory=list)
    """(blob handle, array) for each weight parameter, after the segment's inputs."""


class _Printer:
    def __init__(self, store: BlobStore | None) -> None:
        self.store = store
        self.computations: list[str] = []
        self.bodies: dict[str, str] = {}
        self.weights: list[tuple[str, np.ndarray]] = []
        self.weight_index: dict[str, int] = {}

    def body(self, region_block: Block) -> str:
        lines, names = [], {}
        for k, arg in enumerate(region_block.args):
            names[arg] = f"p{k}"
            lines.append(f"  p{k} = {hlo_type(arg.type)} parameter({k})")
        body = self.instructions(region_block, names, lines, n_params=len(region_block.args), root_tuple=False)
        key = "\n".join(body)
        if key not in self.bodies:
            name = f"region_{len(self.bodies)}"
            self.bodies[key] = name
            self.computations.append(f"{name} {{\n{key}\n}}\n")
        return self.bodies[key]

    def instructions(self, block: Block, names: dict[SSAValue, str], lines: list[str], n_params: int, root_tuple: bool) -> list[str]:
        counter = 0
        for op in block.ops:
            if op.has_trait(_terminator()):
                values = list(op.operands)
                if root_tuple:
                    types = ", ".join(hlo_type(v.type) for v in values)
                    lines.append(f"  ROOT result = ({types}) tuple({', '.join(names[v] for v in values)})")
                else:
                    (v,) = values
                    # a body's ROOT must be an instruction of the body
                    if lines and lines[-1].split(" = ")[0].strip() == names[v]:
                        lines[-1] = lines[-1].replace(f"  {names[v]} =", f"  ROOT {names[v]} =", 1)
                    else:
                        lines.append(f"  ROOT r = {hlo_type(v.type)} copy({names[v]})")
                break
            weight = self.weight_of(op)
            if weight is not None:  # a weight parameter, declared once at the top of ENTRY
                names[op.results[0]] = f"w{weight}"
                continue
            name = f"v{counter}"
            counter += 1
            names[op.results[0]] = name
            lines.append(f"  {name} = {hlo_type(op.results[0].type)} {self.instruction(op, names, n_params)}")
        return lines

    def _array(self, value: DenseResourceAttr) -> np.ndarray:
        handle = value.resource_handle.data
        arr = self.store.get(handle) if self.store is not None else None
        if arr is None:
            raise TsucError(f"weight {handle!r} is not in the blob store (IR read from text has no weights)")
        return arr

    def weight_of(self, op: Operation) -> int | None:
        """The weight-parameter index of a large blob constant (None for anything else)."""
        if not isinstance(op, hlo.ConstantOp) or not isinstance(op.value, DenseResourceAttr):
            return None
        arr = self._array(op.value)
        if arr.size <= INLINE_LIMIT:
            return None
        handle = op.value.resource_handle.data
        if handle not in self.weight_index:
            self.weight_index[handle] = len(self.weights)
            self.weights.append((handle, arr))
        return self.weight_index[handle]

    def constant(self, op: hlo.ConstantOp, n_params: int) -> str:
        value = op.value
        if isinstance(value, DenseResourceAttr):
            return f"constant({_literal(np.asarray(self._array(value)))})"
        arr = attr_value(value, None)
        assert isinstance(value, DenseIntOrFPElementsAttr) and arr is not None
        if arr.size == 1 and value.get_type().get_shape() != arr.shape:
            arr = np.broadcast_to(arr.reshape(()), value.get_type().get_shape())
        return f"constant({_literal(np.asarray(arr))})"

    def instruction(self, op: Operation, names: dict[SSAValue, str], n_params: int) -> str:
        args = ", ".join(names[v] for v in op.operands)
        if isinstance(op, hlo.ConstantOp):
            return self.constant(op, n_params)
        if op.name.split(".", 1)[1] in hlo.UNARY_OPS or op.name.split(".", 1)[1] in hlo.BINARY_OPS:
            return f"{_hyphen(op.name)}({args})"
        if isinstance(op, (hlo.SelectOp, hlo.ClampOp, hlo.ConvertOp, hlo.ReshapeOp)):
            return f"{_hyphen(op.name)}({args})"
        if isinstance(op, hlo.CompareOp):
            return f"compare({args}), direction={op.direction.data}"
        if isinstance(op, hlo.BroadcastInDimOp):
            return f"broadcast({args}), dimensions={_ints(hlo.ints(op.broadcast_dimensions))}"
        if isinstance(op, hlo.TransposeOp):
            return f"transpose({args}), dimensions={_ints(hlo.ints(op.permutation))}"
        if isinstance(op, hlo.ReverseOp):
            return f"reverse({args}), dimensions={_ints(hlo.ints(op.dimensions))}"
        if isinstance(op, hlo.SliceOp):
            parts = [f"[{a}:{b}:{s}]" for a, b, s in zip(hlo.ints(op.start_indices), hlo.ints(op.limit_indices), hlo.ints(op.strides))]
            return f"slice({args}), slice={{{', '.join(parts)}}}"
        if isinstance(op, hlo.DynamicSliceOp):
            return f"dynamic-slice({args}), dynamic_slice_sizes={_ints(hlo.ints(op.slice_sizes))}"
        if isinstance(op, hlo.PadOp):
            pads = "x".join(f"{a}_{b}_{c}" for a, b, c in zip(hlo.ints(op.edge_padding_low), hlo.ints(op.edge_padding_high),
                                                              hlo.ints(op.interior_padding)))
            return f"pad({args}), padding={pads}"
        if isinstance(op, hlo.ConcatenateOp):
            return f"concatenate({args}), dimensions={{{op.dimension.value.data}}}"
        if isinstance(op, hlo.IotaOp):
            return f"iota(), iota_dimension={op.iota_dimension.value.data}"
        if isinstance(op, hlo.GatherOp):
            return (f"gather({args}), offset_dims={_ints(hlo.ints(op.offset_dims))}, "
                    f"collapsed_slice_dims={_ints(hlo.ints(op.collapsed_slice_dims))}, "
                    f"start_index_map={_ints(hlo.ints(op.start_index_map))}, index_vector_dim={op.index_vector_dim.value.data}, "
                    f"slice_sizes={_ints(hlo.ints(op.slice_sizes))}")
        if isinstance(op, hlo.DotGeneralOp):
            return (f"dot({args}), lhs_batch_dims={_ints(hlo.ints(op.lhs_batching_dimensions))}, "
                    f"lhs_contracting_dims={_ints(hlo.ints(op.lhs_contracting_dimensions))}, "
                    f"rhs_batch_dims={_ints(hlo.ints(op.rhs_batching_dimensions))}, "
                    f"rhs_contracting_dims={_ints(hlo.ints(op.rhs_contracting_dimensions))}")
        if isinstance(op, hlo.ConvolutionOp):
            w = hlo.shape(op.rhs)
            labels = hlo.parse_dim_labels(op.dim_labels.data, len(w))
            assert labels is not None
            kernel = [w[d] for d in labels[1][2]]
            window = (f"size={'x'.join(map(str, kernel))} stride={'x'.join(map(str, hlo.ints(op.window_strides)))} "
                      f"pad={'x'.join(f'{a}_{b}' for a, b in zip(hlo.ints(op.padding_low), hlo.ints(op.padding_high)))} "
                      f"lhs_dilate={'x'.join(map(str, hlo.ints(op.lhs_dilation)))} rhs_dilate={'x'.join(map(str, hlo.ints(op.rhs_dilation)))}")
            groups = op.feature_group_count.value.data
            return f"convolution({args}), window={{{window}}}, dim_labels={op.dim_labels.data}" + (
                f", feature_group_count={groups}" if groups != 1 else "")
        if isinstance(op, hlo.ReduceOp):
            self._single(op)
            return f"reduce({args}), dimensions={_ints(hlo.ints(op.dimensions))}, to_apply={self.body(op.body.block)}"
        if isinstance(op, hlo.ReduceWindowOp):
            self._single(op)
            window = (f"size={'x'.join(map(str, hlo.ints(op.window_dimensions)))} "
                      f"stride={'x'.join(map(str, hlo.ints(op.window_strides)))} "
                      f"pad={'x'.join(f'{a}_{b}' for a, b in zip(hlo.ints(op.padding_low), hlo.ints(op.padding_high)))} "
                      f"rhs_dilate={'x'.join(map(str, hlo.ints(op.window_dilations)))}")
            return f"reduce-window({args}), window={{{window}}}, to_apply={self.body(op.body.block)}"
        raise TsucError(f"op {op.name} has no HLO text form")

    @staticmethod
    def _single(op: Operation) -> None:
        if len(op.results) != 1:
            raise TsucError(f"{op.name} with {len(op.results)} results is not printed (tuple-shaped reductions)")


def _terminator():
    from xdsl.traits import IsTerminator

    return IsTerminator


def segment_to_hlo(segment: SegmentOp, store: BlobStore | None, module_name: str | None = None) -> HloModuleText:
    """The HLO text of a lowered xla segment and its weight parameters."""
    printer = _Printer(store)
    block = segment.body.block
    names: dict[SSAValue, str] = {}
    lines: list[str] = []
    for k, arg in enumerate(block.args):
        names[arg] = f"arg{k}"
        lines.append(f"  arg{k} = {hlo_type(arg.type)} parameter({k})")
    body = printer.instructions(block, names, lines, n_params=len(block.args), root_tuple=True)
    # weight parameters are declared after the inputs, in first-use order
    weight_lines = [f"  w{k} = {hlo_type(TensorType(_el(arr), list(arr.shape)))} parameter({len(block.args) + k})"
                    for k, (_h, arr) in enumerate(printer.weights)]
    name = module_name or segment.sym_name.data
    text = f"HloModule {name}\n\n" + "\n".join(printer.computations) + "\nENTRY main {\n" + "\n".join(weight_lines + body) + "\n}\n"
    return HloModuleText(text, printer.weights)


def _el(arr: np.ndarray) -> Attribute:
    from tsuc.compiler.types import _TABLE  # type: ignore[attr-defined]

    for mlir, np_dtype in _TABLE.values():
        if np_dtype == arr.dtype:
            return mlir
    raise TsucError(f"weight dtype {arr.dtype} has no HLO equivalent")

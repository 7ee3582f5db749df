"""The `tfmbs` dialect: ternary GEMV frames on the Ternary Fabric, and the host work around them.

A layer y = x @ W (+ bias) lowered for the fabric (see targets/tfmbs/lower.py) reads:

    %q, %s  = tfmbs.quantize %x {act_trits = 5}           x ~ s * q, q balanced-ternary levels
    %c      = tfmbs.im2col %q {...}                       (Conv only) rows of patches
    %xj     = tfmbs.trit_plane %q {plane = j}             trit j of q, one row per frame
    %p      = tfmbs.pack %t : tensor<KxNxi8> -> !tfmbs.pt5<KxN, mod3>     PT-5 image of a plane
    %w      = tfmbs.dma_load %p {bank = "A", addr = ...}  weights placed in Bank A
    %a      = tfmbs.gemv %w, %xj, %zero {tile_mask, telemetry = {...}}    int32 accumulators
    %y      = tfmbs.combine %a..., %s, %wscale, %bias     sum_j 3^j sum_p wscale_p * a, * s + bias
    %z      = tfmbs.post %y, %r {relu}                     (folded) float32(y + r), then max(., 0)

`tfmbs.gemv` is destination-passing as in the prototype (`%y` is the accumulator it
starts from) and maps one-to-one onto `linalg.matmul ins(%x, %w) outs(%y)`
(`tfmbs-to-linalg`); its frame tiling (N in groups of tiles*lanes, K in bank-sized chunks
chained with BIAS_EN, one frame per row) is the `schedule` attribute the tiling pass adds.
Everything but `gemv` runs on the host, in float or integer arithmetic, never on the fabric.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    attr_def,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    opt_operand_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import NoMemoryEffect
from xdsl.utils.exceptions import VerifyException

ENCODINGS = ("offset", "mod3")
TELEMETRY_KEYS = ("layer", "sparsity", "tile_mask", "fusion_order", "fusion_sparsity")
LAYOUTS = ("rows", "nchw")
MAX_ACT_TRITS = 10


def _i(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), 64)


def _shape(ty: Attribute) -> tuple[int, ...]:
    return tuple(ty.get_shape()) if isinstance(ty, TensorType) else ()


def _int_width(ty: Attribute) -> int | None:
    if isinstance(ty, TensorType) and isinstance(ty.element_type, IntegerType):
        return ty.element_type.width.data
    return None


def _is_float_tensor(ty: Attribute) -> bool:
    return isinstance(ty, TensorType) and not isinstance(ty.element_type, IntegerType)


def _prod(dims: Sequence[int]) -> int:
    """The product of static dims; DYNAMIC_INDEX when any of them is dynamic."""
    out = 1
    for d in dims:
        if d < 0:
            return DYNAMIC_INDEX
        out *= d
    return out


@irdl_attr_definition
class PT5Type(ParametrizedAttribute, TypeAttribute):
    """A ternary matrix packed five trits per byte: `!tfmbs.pt5<KxN, mod3>`."""

    name = "tfmbs.pt5"

    shape: ArrayAttr[IntAttr]
    encoding: StringAttr

    def __init__(self, shape: Sequence[int], encoding: str = "mod3") -> None:
        super().__init__(ArrayAttr([IntAttr(d) for d in shape]), StringAttr(encoding))

    def get_shape(self) -> tuple[int, ...]:
        return tuple(d.data for d in self.shape.data)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            dims = parser.parse_dimension_list()
            parser.parse_punctuation(",")
            encoding = parser.parse_identifier()
        return [ArrayAttr([IntAttr(d) for d in dims]), StringAttr(encoding)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{'x'.join(map(str, self.get_shape()))}, {self.encoding.data}>")

    def verify(self) -> None:
        dims = self.get_shape()
        if len(dims) != 2 or min(dims) < 1:
            raise VerifyException(f"!tfmbs.pt5 needs a static 2-D shape KxN, got {'x'.join(map(str, dims))}")
        if self.encoding.data not in ENCODINGS:
            raise VerifyException(f"!tfmbs.pt5 encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding.data}")


@irdl_op_definition
class PackOp(IRDLOperation):
    """Pack a ternary weight plane [K, N] (i8 in {-1,0,1}) into PT-5 bytes of an encoding."""

    name = "tfmbs.pack"
    trits = operand_def(TensorType)
    packed = result_def(PT5Type)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$trits attr-dict `:` type($trits) `->` type($packed)"

    def __init__(self, trits, encoding: str = "mod3") -> None:
        super().__init__(operands=[trits], result_types=[PT5Type(_shape(trits.type), encoding)])

    def verify_(self) -> None:
        if _int_width(self.trits.type) != 8 or len(_shape(self.trits.type)) != 2:
            raise VerifyException("tfmbs.pack packs a 2-D i8 tensor of trits")
        if _shape(self.trits.type) != self.packed.type.get_shape():
            raise VerifyException("tfmbs.pack result shape must equal its operand's")


@irdl_op_definition
class DmaLoadOp(IRDLOperation):
    """DMA a packed plane into Bank A: the weights a gemv reads, as a [K, N] trit tensor.

    `addr` (byte address as seen from tile 0), `words` (per tile) and `resident` (loaded
    once and kept across calls, else streamed per use) are set by `tfmbs-allocate`.
    """

    name = "tfmbs.dma_load"
    packed = operand_def(PT5Type)
    result = result_def(TensorType)
    bank = attr_def(StringAttr)
    addr = opt_attr_def(IntegerAttr)
    words = opt_attr_def(IntegerAttr)
    resident = opt_attr_def(UnitAttr)

    assembly_format = "$packed attr-dict `:` type($packed) `->` type($result)"

    def __init__(self, packed) -> None:
        k, n = packed.type.get_shape()
        super().__init__(operands=[packed], result_types=[TensorType(IntegerType(8), [k, n])],
                         attributes={"bank": StringAttr("A")})

    def verify_(self) -> None:
        if self.bank.data != "A":
            raise VerifyException("tfmbs.dma_load places weights in bank \"A\"")
        if _int_width(self.result.type) != 8 or _shape(self.result.type) != self.packed.type.get_shape():
            raise VerifyException("tfmbs.dma_load result must be an i8 tensor of the packed shape")
        if self.addr is not None and (self.addr.value.data < 0x1000 or self.addr.value.data % 4):
            raise VerifyException("tfmbs.dma_load addr must be a word-aligned Bank A address (>= 0x1000)")


@irdl_op_definition
class GemvOp(IRDLOperation):
    """y + x @ w on the fabric: x [M, K] trits (one frame per row), w [K, N] trits, y [M, N] i32."""

    name = "tfmbs.gemv"
    w = operand_def(TensorType)
    x = operand_def(TensorType)
    y = operand_def(TensorType)
    result = result_def(TensorType)
    tile_mask = attr_def(IntegerAttr)
    telemetry = attr_def(DictionaryAttr)
    schedule = opt_attr_def(DictionaryAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$w `,` $x `,` $y attr-dict `:` functional-type(operands, results)"

    def __init__(self, w, x, y, tile_mask: int, telemetry: dict[str, Attribute]) -> None:
        super().__init__(operands=[w, x, y], result_types=[y.type],
                         attributes={"tile_mask": _i(tile_mask), "telemetry": DictionaryAttr(telemetry)})

    def verify_(self) -> None:
        ws, xs, ys = _shape(self.w.type), _shape(self.x.type), _shape(self.y.type)
        if (_int_width(self.w.type), _int_width(self.x.type), _int_width(self.y.type)) != (8, 8, 32):
            raise VerifyException("tfmbs.gemv takes i8 weights, i8 inputs and an i32 accumulator")
        if len(ws) != 2 or len(xs) != 2 or len(ys) != 2:
            raise VerifyException("tfmbs.gemv operands must be 2-D: w [K, N], x [M, K], y [M, N]")
        if ws[0] != xs[1] or ys != (xs[0], ws[1]):
            raise VerifyException(f"tfmbs.gemv shapes do not agree: w {ws}, x {xs}, y {ys} (need [K,N], [M,K], [M,N])")
        if self.result.type != self.y.type:
            raise VerifyException("tfmbs.gemv result type must equal its accumulator's")
        if self.tile_mask.value.data <= 0:
            raise VerifyException("tfmbs.gemv tile_mask must name at least one tile")
        keys = set(self.telemetry.data)
        if keys != set(TELEMETRY_KEYS):
            raise VerifyException(f"tfmbs.gemv telemetry must have exactly the keys {', '.join(TELEMETRY_KEYS)}")
        t = self.telemetry.data
        if not isinstance(t["layer"], StringAttr):
            raise VerifyException("tfmbs.gemv telemetry layer must be a string")
        for key in ("sparsity", "fusion_sparsity"):
            if not isinstance(t[key], FloatAttr) or not 0.0 <= t[key].value.data <= 1.0:
                raise VerifyException(f"tfmbs.gemv telemetry {key} must be a float in [0, 1]")
        for key in ("tile_mask", "fusion_order"):
            if not isinstance(t[key], IntegerAttr):
                raise VerifyException(f"tfmbs.gemv telemetry {key} must be an integer")
        if t["tile_mask"].value.data != self.tile_mask.value.data:
            raise VerifyException("tfmbs.gemv telemetry tile_mask must equal the op's tile_mask")


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """x ~ scale * levels with |levels| <= (3^act_trits - 1)/2, scale chosen per call (host).

    The scale is a 0-d float tensor; the lowering makes it f64, as the runtime computes it.
    """

    name = "tfmbs.quantize"
    input = operand_def(TensorType)
    levels = result_def(TensorType)
    scale = result_def(TensorType)
    act_trits = attr_def(IntegerAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$input attr-dict `:` type($input) `->` type($levels) `,` type($scale)"

    def __init__(self, x, act_trits: int) -> None:
        from xdsl.dialects.builtin import f64

        width = 16 if act_trits <= 9 else 32
        super().__init__(operands=[x], result_types=[TensorType(IntegerType(width), _shape(x.type)), TensorType(f64, [])],
                         attributes={"act_trits": _i(act_trits)})

    def verify_(self) -> None:
        k = self.act_trits.value.data
        if not 1 <= k <= MAX_ACT_TRITS:
            raise VerifyException(f"tfmbs.quantize act_trits must be between 1 and {MAX_ACT_TRITS}")
        if not _is_float_tensor(self.input.type):
            raise VerifyException("tfmbs.quantize takes a float tensor")
        if _shape(self.levels.type) != _shape(self.input.type) or _int_width(self.levels.type) not in (16, 32):
            raise VerifyException("tfmbs.quantize levels must be an i16 or i32 tensor of the input's shape")
        if _int_width(self.levels.type) == 16 and k > 9:
            raise VerifyException("tfmbs.quantize with more than 9 trits needs i32 levels")
        if _shape(self.scale.type) != () or not _is_float_tensor(self.scale.type):
            raise VerifyException("tfmbs.quantize scale must be a 0-d float tensor")


@irdl_op_definition
class Im2ColOp(IRDLOperation):
    """Rows of convolution patches: [B, C, H, W] -> [B*OH*OW, (C/groups)*KH*KW] for one group.
    B may be dynamic (then so are the rows); C, H and W are static."""

    name = "tfmbs.im2col"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    kernel_shape = attr_def(DenseArrayBase)
    strides = attr_def(DenseArrayBase)
    pads = attr_def(DenseArrayBase)
    dilations = attr_def(DenseArrayBase)
    group = attr_def(IntegerAttr)
    groups = attr_def(IntegerAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def out_hw(self) -> tuple[int, int]:
        _, _, h, w = _shape(self.input.type)
        kh, kw = self.kernel_shape.get_values()
        sh, sw = self.strides.get_values()
        pt, pl, pb, pr = self.pads.get_values()
        dh, dw = self.dilations.get_values()
        return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1

    def verify_(self) -> None:
        s = _shape(self.input.type)
        if len(s) != 4:
            raise VerifyException("tfmbs.im2col takes a 4-D NCHW tensor")
        for name, n in (("kernel_shape", 2), ("strides", 2), ("pads", 4), ("dilations", 2)):
            vals = getattr(self, name).get_values()
            if len(vals) != n or min(vals) < (0 if name == "pads" else 1):
                raise VerifyException(f"tfmbs.im2col {name} must have {n} {'non-negative' if name == 'pads' else 'positive'} values")
        g, gs = self.group.value.data, self.groups.value.data
        if not 0 <= g < gs or s[1] % gs:
            raise VerifyException("tfmbs.im2col group must be in [0, groups) and groups must divide the channels")
        oh, ow = self.out_hw()
        kh, kw = self.kernel_shape.get_values()
        want = (_prod([s[0], oh, ow]), s[1] // gs * kh * kw)
        if oh < 1 or ow < 1 or _shape(self.result.type) != want:
            raise VerifyException(f"tfmbs.im2col result must be {want[0]}x{want[1]}")
        if self.result.type.element_type != self.input.type.element_type:
            raise VerifyException("tfmbs.im2col keeps the element type")


@irdl_op_definition
class TritPlaneOp(IRDLOperation):
    """Balanced-ternary digit `plane` of integer levels [..., K], rows flattened: [M, K] i8."""

    name = "tfmbs.trit_plane"
    levels = operand_def(TensorType)
    result = result_def(TensorType)
    plane = attr_def(IntegerAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$levels attr-dict `:` type($levels) `->` type($result)"

    def verify_(self) -> None:
        s, r = _shape(self.levels.type), _shape(self.result.type)
        if _int_width(self.levels.type) not in (16, 32) or _int_width(self.result.type) != 8:
            raise VerifyException("tfmbs.trit_plane maps i16/i32 levels to i8 trits")
        if not s or len(r) != 2 or r != (_prod(s[:-1]), s[-1]):
            raise VerifyException("tfmbs.trit_plane result must be [rows, K] with rows the product of the leading dims")
        if not 0 <= self.plane.value.data < MAX_ACT_TRITS:
            raise VerifyException("tfmbs.trit_plane plane out of range")


@irdl_op_definition
class CombineOp(IRDLOperation):
    """Host epilogue: y = s * sum_j 3^j sum_p wscale[p] * acc[j*P + p] (* alpha) + bias, in float.

    Operands: the act_trits * w_planes accumulators (plane-major: j outer, p inner), the
    activation scale, the weight scales [P, N] and the bias [N]. `layout = "rows"` keeps the
    rows as the leading dims of the result ([..., N]); `"nchw"` turns B*OH*OW rows into
    [B, N, OH, OW].
    """

    name = "tfmbs.combine"
    operands_ = var_operand_def(TensorType)
    result = result_def(TensorType)
    act_trits = attr_def(IntegerAttr)
    w_planes = attr_def(IntegerAttr)
    layout = attr_def(StringAttr)
    alpha = opt_attr_def(FloatAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$operands_ attr-dict `:` functional-type($operands_, results)"

    @property
    def accs(self):
        return list(self.operands_)[:-3]

    @property
    def act_scale(self):
        return self.operands_[-3]

    @property
    def w_scales(self):
        return self.operands_[-2]

    @property
    def bias(self):
        return self.operands_[-1]

    def verify_(self) -> None:
        j, p = self.act_trits.value.data, self.w_planes.value.data
        ops = list(self.operands_)
        if len(ops) != j * p + 3:
            raise VerifyException(f"tfmbs.combine needs act_trits*w_planes = {j * p} accumulators, a scale, weight scales and a bias")
        shapes = {_shape(a.type) for a in self.accs}
        if len(shapes) != 1 or any(_int_width(a.type) != 32 for a in self.accs):
            raise VerifyException("tfmbs.combine accumulators must be i32 tensors of one shape")
        (acc_shape,) = shapes
        if len(acc_shape) != 2:
            raise VerifyException("tfmbs.combine accumulators must be 2-D [M, N]")
        m, n = acc_shape
        if _shape(self.act_scale.type) != () or _shape(self.w_scales.type) != (p, n) or _shape(self.bias.type) != (n,):
            raise VerifyException(f"tfmbs.combine scale must be 0-d, weight scales [{p}, {n}] and bias [{n}]")
        if self.layout.data not in LAYOUTS:
            raise VerifyException(f"tfmbs.combine layout must be one of {', '.join(LAYOUTS)}")
        out = _shape(self.result.type)
        if not _is_float_tensor(self.result.type):
            raise VerifyException("tfmbs.combine produces a float tensor")
        if self.layout.data == "rows" and (not out or out[-1] != n or _prod(out[:-1]) != m):
            raise VerifyException(f"tfmbs.combine rows layout needs a result [..., {n}] with {m} rows")
        if self.layout.data == "nchw" and (len(out) != 4 or out[1] != n or _prod([out[0], out[2], out[3]]) != m):
            raise VerifyException(f"tfmbs.combine nchw layout needs a result [B, {n}, OH, OW] with B*OH*OW = {m}")


@irdl_op_definition
class PostOp(IRDLOperation):
    """Host epilogue after a combine, folded from a residual Add and a Relu (option `fold`):
    y = input; with a residual y = float32(y + residual); with `relu` y = max(y, 0) (as
    np.maximum: -0.0 and NaN stay as they are). `input` is the layer's `tfmbs.combine`."""

    name = "tfmbs.post"
    input = operand_def(TensorType)
    residual = opt_operand_def(TensorType)
    result = result_def(TensorType)
    relu = opt_attr_def(UnitAttr)
    traits = traits_def(NoMemoryEffect())

    assembly_format = "$input (`,` $residual^)? attr-dict `:` type($input) (`,` type($residual)^)? `->` type($result)"

    def __init__(self, input, residual=None, relu: bool = False) -> None:
        super().__init__(operands=[input, [residual] if residual is not None else []], result_types=[input.type],
                         attributes={"relu": UnitAttr()} if relu else {})

    def verify_(self) -> None:
        if not _is_float_tensor(self.input.type):
            raise VerifyException("tfmbs.post takes a float tensor")
        if self.residual is not None and self.residual.type != self.input.type:
            raise VerifyException("tfmbs.post residual must have its input's type")
        if self.result.type != self.input.type:
            raise VerifyException("tfmbs.post result must have its input's type")


TFMBS = Dialect(
    "tfmbs",
    [PackOp, DmaLoadOp, GemvOp, QuantizeOp, Im2ColOp, TritPlaneOp, CombineOp, PostOp],
    [PT5Type],
)

for _op in TFMBS.operations:
    # Every verify_ above reads only the op's own operand/result types and attributes, so the
    # driver's verification after each pass may skip an unchanged op (tsuc.compiler.verifier).
    # An op whose verifier looks further (at its operands' producers, its parent) must say False.
    _op.LOCAL_VERIFY = True  # type: ignore[attr-defined]


def get_tfmbs_dialect() -> Dialect:
    return TFMBS

"""The `tsu` dialect: Ising problems and sampling on a p-bit machine (thermodynamic sampling unit).

An Ising problem (H(s) = -1/2 s^T J s - h^T s + offset) lowers in steps, one op per step, so
each pass's work stays visible in the IR:

    %p = tsu.problem couplings dense_resource<g1_ij> : tensor<19176x2xi64>
                     weights dense_resource<g1_w> : tensor<19176xf64>
                     fields dense_resource<g1_h> : tensor<800xf64> offset 0.0 : f64 maxcut : !tsu.problem<800>
    %e = tsu.embed %p ...                    (sparse topologies: chains of p-bits)  -> !tsu.problem<P>
    %q = tsu.quantize %p j_bits 8 h_bits 8 scale 1.0 ...                           -> !tsu.program<800>
    %c = tsu.colour %q method "dsatur" colours ... num_colours 15                  -> !tsu.program<800>
    %s, %e, %b, %be, %cut = tsu.sample "ising" (%c) samples 16 steps 1000 beta 5.6 beta0 0.005
                     schedule "geometric" machine {...} : (!tsu.program<800>) -> (tensor<?x800xi8>, ...)

Couplings are the strict upper triangle as an (E, 2) index tensor plus an (E,) value tensor;
large arrays are `dense_resource` handles into the module's blob store, small ones may be
written inline (`dense<...>`), which is what lit tests do. `!tsu.problem<N>` is a float
problem over N spins; `!tsu.program<N>` the integer machine program over N p-bits.

`tsu.sample` is also the sampling op of models: kind `bernoulli` (p-bits firing with the
given probabilities), `noise` (uniform or normal numbers from the p-bits' RNGs, the ONNX
RandomUniform/RandomNormal family), `attention` (the average of `samples` p-bit samples of
sigmoid(beta * x)) and `ising` (annealing a program). The machine configuration rides on the
sample op as a `machine` dictionary (n_pbits, topology, clock_hz, energy_per_flip_j).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    DictionaryAttr,
    Float64Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import NoMemoryEffect
from xdsl.utils.exceptions import VerifyException

KINDS = ("bernoulli", "ising", "attention", "noise")
SCHEDULES = ("constant", "linear", "geometric")
DISTRIBUTIONS = ("uniform", "normal")
TOPOLOGIES = ("complete", "king")
COLOUR_METHODS = ("dsatur", "greedy")
MACHINE_KEYS = {"n_pbits": int, "topology": str, "clock_hz": float, "energy_per_flip_j": float}

TensorData = DenseIntOrFPElementsAttr | DenseResourceAttr


class _SizedType(ParametrizedAttribute, TypeAttribute):
    """A type with one positive size parameter, written `!tsu.<name><N>`."""

    size: IntAttr

    def __init__(self, size: int | IntAttr):
        super().__init__(size if isinstance(size, IntAttr) else IntAttr(int(size)))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            size = parser.parse_integer(allow_boolean=False, allow_negative=False)
        return [IntAttr(size)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.size.data}>")

    def verify(self) -> None:
        if self.size.data < 1:
            raise VerifyException(f"!{self.name} needs at least one spin, got {self.size.data}")


@irdl_attr_definition
class ProblemType(_SizedType):
    """`!tsu.problem<N>`: an Ising problem over N spins (float couplings)."""

    name = "tsu.problem"


@irdl_attr_definition
class ProgramType(_SizedType):
    """`!tsu.program<N>`: a machine program over N p-bits (integer couplings)."""

    name = "tsu.program"


def _shape(attr: Attribute) -> tuple[int, ...] | None:
    ty = attr.type if isinstance(attr, DenseResourceAttr) else attr.get_type()
    return tuple(ty.get_shape()) if isinstance(ty, TensorType) else None


def _elem(attr: Attribute) -> Attribute | None:
    ty = attr.type if isinstance(attr, DenseResourceAttr) else attr.get_type()
    return ty.get_element_type() if isinstance(ty, TensorType) else None


def _check_tensor(op: str, what: str, attr: Attribute, shape: tuple[int | None, ...], integer: bool | None) -> None:
    got = _shape(attr)
    if got is None or len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)):
        want = "x".join("?" if d is None else str(d) for d in shape) or "scalar"
        raise VerifyException(f"{op} {what} must have shape {want}, got {'x'.join(map(str, got or ())) or 'none'}")
    elem = _elem(attr)
    if integer is True and not isinstance(elem, IntegerType):
        raise VerifyException(f"{op} {what} must hold integers, got {elem}")
    if integer is False and isinstance(elem, IntegerType):
        raise VerifyException(f"{op} {what} must hold floating-point values, got {elem}")


def _check_couplings(op: str, couplings: Attribute, weights: Attribute, n: int, integer_weights: bool) -> int:
    shape = _shape(couplings)
    if shape is None or len(shape) != 2 or shape[1] != 2:
        raise VerifyException(f"{op} couplings must be an Ex2 index tensor, got {'x'.join(map(str, shape or ()))}")
    _check_tensor(op, "couplings", couplings, (shape[0], 2), True)
    _check_tensor(op, "weights", weights, (shape[0],), integer_weights)
    if isinstance(couplings, DenseIntOrFPElementsAttr) and shape[0]:
        vals = couplings.get_values()
        pairs = list(zip(vals[0::2], vals[1::2]))
        bad = next(((i, j) for i, j in pairs if not 0 <= i < j < n), None)
        if bad is not None:
            raise VerifyException(f"{op} coupling {bad} must satisfy 0 <= i < j < {n}")
    return shape[0]


def _f64(value: float) -> FloatAttr:
    return FloatAttr(float(value), Float64Type())


def _i64(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), 64)


@irdl_op_definition
class ProblemOp(IRDLOperation):
    """An Ising problem H(s) = -1/2 s^T J s - h^T s + offset as the frontends read it."""

    name = "tsu.problem"
    couplings = prop_def(TensorData)
    weights = prop_def(TensorData)
    fields = prop_def(TensorData)
    offset = prop_def(FloatAttr)
    maxcut = opt_prop_def(UnitAttr)
    problem = result_def(ProblemType)
    traits = traits_def(NoMemoryEffect())

    assembly_format = ("`couplings` $couplings `weights` $weights `fields` $fields `offset` $offset "
                       "(`maxcut` $maxcut^)? attr-dict `:` type($problem)")

    def __init__(self, n: int, couplings: Attribute, weights: Attribute, fields: Attribute, offset: float, maxcut: bool = False):
        props: dict[str, Attribute] = {"couplings": couplings, "weights": weights, "fields": fields, "offset": _f64(offset)}
        if maxcut:
            props["maxcut"] = UnitAttr()
        super().__init__(properties=props, result_types=[ProblemType(n)])

    @property
    def num_spins(self) -> int:
        return self.problem.type.size.data  # type: ignore[attr-defined]

    def verify_(self) -> None:
        n = self.num_spins
        _check_couplings(self.name, self.couplings, self.weights, n, integer_weights=False)
        _check_tensor(self.name, "fields", self.fields, (n,), False)


@irdl_op_definition
class EmbedOp(IRDLOperation):
    """The physical problem of a minor embedding: chains of p-bits on a sparse topology.

    `chains` maps each used p-bit to its logical spin; the physical couplings include the
    ferromagnetic chain couplings (+chain_strength); `sites` are the p-bits' wiring indices."""

    name = "tsu.embed"
    logical = operand_def(ProblemType)
    topology = prop_def(StringAttr)
    chain_strength = prop_def(FloatAttr)
    chains = prop_def(TensorData)
    sites = prop_def(TensorData)
    couplings = prop_def(TensorData)
    weights = prop_def(TensorData)
    fields = prop_def(TensorData)
    offset = prop_def(FloatAttr)
    physical = result_def(ProblemType)
    traits = traits_def(NoMemoryEffect())

    assembly_format = ("$logical `topology` $topology `chain_strength` $chain_strength `chains` $chains `sites` $sites "
                       "`couplings` $couplings `weights` $weights `fields` $fields `offset` $offset "
                       "attr-dict `:` type($logical) `->` type($physical)")

    def __init__(self, logical: SSAValue, topology: str, chain_strength: float, chains: Attribute, sites: Attribute,
                 couplings: Attribute, weights: Attribute, fields: Attribute, offset: float, pbits: int):
        super().__init__(operands=[logical], result_types=[ProblemType(pbits)], properties={
            "topology": StringAttr(topology), "chain_strength": _f64(chain_strength), "chains": chains, "sites": sites,
            "couplings": couplings, "weights": weights, "fields": fields, "offset": _f64(offset)})

    def verify_(self) -> None:
        p = self.physical.type.size.data  # type: ignore[attr-defined]
        if self.topology.data not in TOPOLOGIES or self.topology.data == "complete":
            raise VerifyException(f"tsu.embed topology must be a sparse one ({', '.join(TOPOLOGIES[1:])}), got {self.topology.data!r}")
        if self.chain_strength.value.data <= 0:
            raise VerifyException("tsu.embed chain_strength must be positive")
        _check_tensor(self.name, "chains", self.chains, (p,), True)
        _check_tensor(self.name, "sites", self.sites, (p,), True)
        _check_couplings(self.name, self.couplings, self.weights, p, integer_weights=False)
        _check_tensor(self.name, "fields", self.fields, (p,), False)
        n = self.logical.type.size.data  # type: ignore[attr-defined]
        if p < n:
            raise VerifyException(f"tsu.embed maps {n} spins onto only {p} p-bits")


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """Couplings and biases on the machine's fixed-point grid: J ~ scale * weights, h ~ scale * fields.
    `error` reports the quantisation error (max/rms coupling error, energy error bound, ...)."""

    name = "tsu.quantize"
    problem = operand_def(ProblemType)
    j_bits = prop_def(IntegerAttr)
    h_bits = prop_def(IntegerAttr)
    scale = prop_def(FloatAttr)
    couplings = prop_def(TensorData)
    weights = prop_def(TensorData)
    fields = prop_def(TensorData)
    error = prop_def(DictionaryAttr)
    program = result_def(ProgramType)
    traits = traits_def(NoMemoryEffect())

    assembly_format = ("$problem `j_bits` $j_bits `h_bits` $h_bits `scale` $scale `couplings` $couplings "
                       "`weights` $weights `fields` $fields `error` $error attr-dict `:` type($problem) `->` type($program)")

    def __init__(self, problem: SSAValue, j_bits: int, h_bits: int, scale: float, couplings: Attribute, weights: Attribute,
                 fields: Attribute, error: dict[str, Attribute]):
        n = problem.type.size.data  # type: ignore[attr-defined]
        super().__init__(operands=[problem], result_types=[ProgramType(n)], properties={
            "j_bits": _i64(j_bits), "h_bits": _i64(h_bits), "scale": _f64(scale), "couplings": couplings,
            "weights": weights, "fields": fields, "error": DictionaryAttr(error)})

    def verify_(self) -> None:
        n = self.program.type.size.data  # type: ignore[attr-defined]
        if n != self.problem.type.size.data:  # type: ignore[attr-defined]
            raise VerifyException("tsu.quantize must keep the number of spins")
        for what, attr in (("j_bits", self.j_bits), ("h_bits", self.h_bits)):
            if not 2 <= attr.value.data <= 31:
                raise VerifyException(f"tsu.quantize {what} must lie in 2..31, got {attr.value.data}")
        if not self.scale.value.data > 0:
            raise VerifyException("tsu.quantize scale must be positive")
        _check_couplings(self.name, self.couplings, self.weights, n, integer_weights=True)
        _check_tensor(self.name, "fields", self.fields, (n,), True)
        if isinstance(self.weights, DenseIntOrFPElementsAttr):
            lim = (1 << (self.j_bits.value.data - 1)) - 1
            if any(abs(v) > lim for v in self.weights.get_values()):
                raise VerifyException(f"tsu.quantize weights exceed the {self.j_bits.value.data}-bit range +-{lim}")
        if isinstance(self.fields, DenseIntOrFPElementsAttr):
            lim = (1 << (self.h_bits.value.data - 1)) - 1
            if any(abs(v) > lim for v in self.fields.get_values()):
                raise VerifyException(f"tsu.quantize fields exceed the {self.h_bits.value.data}-bit range +-{lim}")


@irdl_op_definition
class ColourOp(IRDLOperation):
    """A proper colouring of the program's couplings: p-bits of one colour update in one clock."""

    name = "tsu.colour"
    program = operand_def(ProgramType)
    method = prop_def(StringAttr)
    colours = prop_def(TensorData)
    num_colours = prop_def(IntegerAttr)
    coloured = result_def(ProgramType)
    traits = traits_def(NoMemoryEffect())

    assembly_format = ("$program `method` $method `colours` $colours `num_colours` $num_colours "
                       "attr-dict `:` type($program) `->` type($coloured)")

    def __init__(self, program: SSAValue, method: str, colours: Attribute, num_colours: int):
        super().__init__(operands=[program], result_types=[program.type], properties={
            "method": StringAttr(method), "colours": colours, "num_colours": _i64(num_colours)})

    def verify_(self) -> None:
        n = self.program.type.size.data  # type: ignore[attr-defined]
        if self.coloured.type != self.program.type:
            raise VerifyException("tsu.colour must keep the program type")
        if self.method.data not in COLOUR_METHODS:
            raise VerifyException(f"tsu.colour method must be one of {', '.join(COLOUR_METHODS)}, got {self.method.data!r}")
        _check_tensor(self.name, "colours", self.colours, (n,), True)
        k = self.num_colours.value.data
        if not 1 <= k <= n:
            raise VerifyException(f"tsu.colour num_colours must lie in 1..{n}, got {k}")
        if isinstance(self.colours, DenseIntOrFPElementsAttr):
            vals = self.colours.get_values()
            if min(vals) < 0 or max(vals) >= k:
                raise VerifyException(f"tsu.colour colours must lie in 0..{k - 1}")
            q = self.program.owner
            if isinstance(q, QuantizeOp) and isinstance(q.couplings, DenseIntOrFPElementsAttr):
                c = q.couplings.get_values()
                for i, j in zip(c[0::2], c[1::2]):
                    if vals[i] == vals[j]:
                        raise VerifyException(f"tsu.colour gives coupled p-bits {i} and {j} the same colour {vals[i]}")


@irdl_op_definition
class SampleOp(IRDLOperation):
    """Sampling on the p-bit machine; see the module docstring for the kinds."""

    name = "tsu.sample"
    kind = prop_def(StringAttr)
    inputs = var_operand_def()
    samples = prop_def(IntegerAttr)
    steps = prop_def(IntegerAttr)
    beta = prop_def(FloatAttr)
    beta0 = opt_prop_def(FloatAttr)
    schedule = opt_prop_def(StringAttr)
    tempering = opt_prop_def(IntegerAttr)
    distribution = opt_prop_def(StringAttr)
    loc = opt_prop_def(FloatAttr)
    scale = opt_prop_def(FloatAttr)
    machine = opt_prop_def(DictionaryAttr)
    outs = var_result_def()

    assembly_format = ("$kind `(` $inputs `)` `samples` $samples `steps` $steps `beta` $beta (`beta0` $beta0^)? "
                       "(`schedule` $schedule^)? (`tempering` $tempering^)? (`distribution` $distribution^)? "
                       "(`loc` $loc^)? (`scale` $scale^)? (`machine` $machine^)? attr-dict "
                       "`:` functional-type($inputs, $outs)")

    def __init__(self, kind: str, inputs: Sequence[SSAValue], result_types: Sequence[Attribute], *, samples: int = 1,
                 steps: int = 1, beta: float = 1.0, beta0: float | None = None, schedule: str | None = None,
                 tempering: int | None = None, distribution: str | None = None, loc: float | None = None,
                 scale: float | None = None, machine: dict[str, Attribute] | None = None):
        props: dict[str, Attribute] = {"kind": StringAttr(kind), "samples": _i64(samples), "steps": _i64(steps), "beta": _f64(beta)}
        for key, value, make in (("beta0", beta0, _f64), ("schedule", schedule, StringAttr), ("tempering", tempering, _i64),
                                 ("distribution", distribution, StringAttr), ("loc", loc, _f64), ("scale", scale, _f64)):
            if value is not None:
                props[key] = make(value)
        if machine is not None:
            props["machine"] = DictionaryAttr(machine)
        super().__init__(operands=[list(inputs)], result_types=[list(result_types)], properties=props)

    def verify_(self) -> None:
        kind = self.kind.data
        if kind not in KINDS:
            raise VerifyException(f"tsu.sample kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if self.samples.value.data < 1 or self.steps.value.data < 1:
            raise VerifyException("tsu.sample samples and steps must be at least 1")
        if self.beta.value.data < 0:
            raise VerifyException("tsu.sample beta must be non-negative")
        if self.schedule is not None and self.schedule.data not in SCHEDULES:
            raise VerifyException(f"tsu.sample schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule.data!r}")
        if self.machine is not None:
            for key, value in self.machine.data.items():
                if key not in MACHINE_KEYS:
                    raise VerifyException(f"tsu.sample machine has unknown key {key!r} (keys: {', '.join(MACHINE_KEYS)})")
                want = MACHINE_KEYS[key]
                ok = isinstance(value, StringAttr) if want is str else isinstance(value, IntegerAttr if want is int else FloatAttr)
                if not ok:
                    raise VerifyException(f"tsu.sample machine {key} must be a {want.__name__}")
        getattr(self, f"_verify_{kind}")()

    def _verify_ising(self) -> None:
        if len(self.inputs) != 1 or not isinstance(self.inputs[0].type, (ProblemType, ProgramType)):
            raise VerifyException("tsu.sample \"ising\" takes one !tsu.problem or !tsu.program operand")
        n = self.inputs[0].type.size.data  # type: ignore[attr-defined]
        # the program may hold more p-bits than the problem has spins (embedding); results are logical
        types = [r.type for r in self.outs]
        if len(types) not in (4, 5):
            raise VerifyException("tsu.sample \"ising\" yields samples, energies, best_sample, best_energy and, for Max-Cut, cut")
        samples, energies, best, best_e, *cut = types
        if not (isinstance(samples, TensorType) and samples.get_element_type() == IntegerType(8) and len(samples.get_shape()) == 2):
            raise VerifyException("tsu.sample \"ising\" samples must be a reads x n tensor of i8")
        spins = samples.get_shape()[1]
        if spins > n:
            raise VerifyException(f"tsu.sample \"ising\" cannot return {spins} spins from {n}")
        if not (isinstance(best, TensorType) and best.get_shape() == (spins,) and best.get_element_type() == IntegerType(8)):
            raise VerifyException(f"tsu.sample \"ising\" best_sample must be tensor<{spins}xi8>")
        for what, ty, rank in (("energies", energies, 1), ("best_energy", best_e, 0)) + tuple(("cut", c, 0) for c in cut):
            if not (isinstance(ty, TensorType) and ty.get_element_type() == Float64Type() and len(ty.get_shape()) == rank):
                raise VerifyException(f"tsu.sample \"ising\" {what} must be a rank-{rank} f64 tensor")
        if self.tempering is not None and self.tempering.value.data == 1:
            raise VerifyException("tsu.sample tempering must be 0 (off) or at least 2 levels")

    def _one_to_one(self, what: str) -> None:
        if len(self.inputs) != 1 or len(self.outs) != 1:
            raise VerifyException(f"tsu.sample \"{self.kind.data}\" takes one {what} tensor and yields one tensor")
        a, r = self.inputs[0].type, self.outs[0].type
        if not isinstance(a, TensorType) or not isinstance(r, TensorType) or a.get_shape() != r.get_shape():
            raise VerifyException(f"tsu.sample \"{self.kind.data}\" result must have the shape of its operand")

    def _verify_bernoulli(self) -> None:
        self._one_to_one("probability")

    def _verify_attention(self) -> None:
        self._one_to_one("score")

    def _verify_noise(self) -> None:
        if len(self.inputs) > 1 or len(self.outs) != 1 or not isinstance(self.outs[0].type, TensorType):
            raise VerifyException("tsu.sample \"noise\" takes at most one (shape-giving) operand and yields one tensor")
        if self.distribution is None or self.distribution.data not in DISTRIBUTIONS:
            raise VerifyException(f"tsu.sample \"noise\" needs distribution {' or '.join(DISTRIBUTIONS)}")
        if self.inputs and isinstance(self.inputs[0].type, TensorType) and self.inputs[0].type.get_shape() != self.outs[0].type.get_shape():
            raise VerifyException("tsu.sample \"noise\" result must have the shape of its operand")


TSU = Dialect("tsu", [ProblemOp, EmbedOp, QuantizeOp, ColourOp, SampleOp], [ProblemType, ProgramType])

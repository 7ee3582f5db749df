"""Lowering passes of the tsu target, each a `ModulePass` of one `RewritePattern`.

They act on `tsu.sample "ising"` ops and rewrite the chain of ops feeding them:

    tsu-embed     problem -> tsu.embed (sparse topologies: minor embedding, chain strength)
    tsu-quantize  problem -> tsu.quantize (fixed-point couplings, error report)
    tsu-colour    program -> tsu.colour (graph colouring for chromatic updates)
    tsu-schedule  fills the anneal schedule (default beta range from the program)

and `tsu-lower-sampling` turns the ONNX random ops the partitioner put in tsu segments into
`tsu.sample` ops (see `sampling.py`). Each pass is idempotent: an op it already lowered
no longer matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import Float64Type, FloatAttr, IntegerAttr, ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from tsuc.compiler.blobs import module_of
from tsuc.compiler.target_config import segment_options
from tsuc.dialects.tsu import ColourOp, EmbedOp, ProblemOp, ProblemType, QuantizeOp, SampleOp
from tsuc.errors import TsucError
from tsuc.runtime.tsu.anneal import default_beta_range
from tsuc.runtime.tsu.machine import MachineProgram
from tsuc.runtime.tsu.options import TsuOptions
from tsuc.targets.tsu.colouring import check_colouring, colour_graph
from tsuc.targets.tsu.embedding import embed_problem, find_chains, topology_edges
from tsuc.targets.tsu.ir import problem_of, store_of, tensor_attr, tensor_value
from tsuc.targets.tsu.quantize import quantize


def _options(op: SampleOp) -> TsuOptions | None:
    """The options of the tsu segment around `op` (None outside tsu segments)."""
    return segment_options(op, TsuOptions)


def _ising(op: SampleOp) -> bool:
    return op.kind.data == "ising" and len(op.inputs) == 1


def _set_input(op: SampleOp, value, rewriter: PatternRewriter) -> None:
    op.operands = [value]
    rewriter.notify_op_modified(op)


# -- embedding ---------------------------------------------------------------------------------


class EmbedPattern(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SampleOp, rewriter: PatternRewriter) -> None:
        opts = _options(op)
        if opts is None or not _ising(op) or not isinstance(op.inputs[0].owner, ProblemOp):
            return
        problem_op = op.inputs[0].owner
        n = problem_op.num_spins
        if opts.topology == "complete":
            if n > opts.n_pbits:
                raise TsucError(f"the problem has {n} spins but the machine has n_pbits={opts.n_pbits} (raise tsu.n_pbits)")
            return
        problem = problem_of(problem_op)
        chains = find_chains(problem, opts.topology, opts.n_pbits, opts.embed_seed)
        _, wiring = topology_edges(opts.topology, opts.n_pbits)
        emb = embed_problem(problem, chains, wiring, opts.chain_strength)
        phys = emb.physical
        store = store_of(module_of(op))
        pairs = np.stack([phys.rows, phys.cols], axis=1)
        new = EmbedOp(problem_op.problem, opts.topology, emb.chain_strength, tensor_attr(store, emb.chain_of, "chains"),
                      tensor_attr(store, emb.site, "sites"), tensor_attr(store, pairs, "physical_couplings"),
                      tensor_attr(store, phys.J, "physical_weights"), tensor_attr(store, phys.h, "physical_fields"),
                      phys.offset, phys.n)
        new.attributes["max_chain"] = IntegerAttr(emb.max_chain, 64)
        rewriter.insert(new)
        _set_input(op, new.physical, rewriter)


@dataclass(frozen=True)
class TsuEmbedPass(ModulePass):
    """Fit the problem onto the machine's topology (complete: a capacity check only)."""

    name = "tsu-embed"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(EmbedPattern(), apply_recursively=False).rewrite_module(op)


# -- quantisation ------------------------------------------------------------------------------


class QuantizePattern(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SampleOp, rewriter: PatternRewriter) -> None:
        opts = _options(op)
        if opts is None or not _ising(op) or not isinstance(op.inputs[0].type, ProblemType):
            return
        source = op.inputs[0].owner
        if not isinstance(source, (ProblemOp, EmbedOp)):
            return
        q = quantize(problem_of(source), opts.j_bits, opts.h_bits)
        store = store_of(module_of(op))
        pairs = np.stack([q.rows, q.cols], axis=1) if q.rows.size else np.zeros((0, 2), dtype=np.int64)
        error = {k: (FloatAttr(float(v), Float64Type()) if isinstance(v, float) else IntegerAttr(int(v), 64))
                 for k, v in q.report.items() if k != "scale"}
        new = QuantizeOp(source.results[0], opts.j_bits, opts.h_bits, q.scale, tensor_attr(store, pairs, "q_couplings"),
                         tensor_attr(store, q.Jq.astype(np.int32), "q_weights"), tensor_attr(store, q.hq.astype(np.int32), "q_fields"),
                         error)
        rewriter.insert(new)
        _set_input(op, new.program, rewriter)


@dataclass(frozen=True)
class TsuQuantizePass(ModulePass):
    """Quantise couplings to j_bits and biases to h_bits (signed fixed point, shared scale)."""

    name = "tsu-quantize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(QuantizePattern(), apply_recursively=False).rewrite_module(op)


# -- colouring ---------------------------------------------------------------------------------


def program_arrays(q: QuantizeOp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pairs = tensor_value(q.couplings, q, "couplings").reshape(-1, 2).astype(np.int64)
    return pairs[:, 0], pairs[:, 1], tensor_value(q.weights, q, "weights").reshape(-1).astype(np.int64)


class ColourPattern(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SampleOp, rewriter: PatternRewriter) -> None:
        opts = _options(op)
        if opts is None or not _ising(op) or not isinstance(op.inputs[0].owner, QuantizeOp):
            return
        q = op.inputs[0].owner
        n = q.program.type.size.data  # type: ignore[attr-defined]
        rows, cols, _ = program_arrays(q)
        colours = colour_graph(n, rows, cols, opts.colouring)
        check_colouring(colours, rows, cols)
        new = ColourOp(q.program, opts.colouring, tensor_attr(store_of(module_of(op)), colours, "colours"), int(colours.max()) + 1)
        rewriter.insert(new)
        _set_input(op, new.coloured, rewriter)


@dataclass(frozen=True)
class TsuColourPass(ModulePass):
    """Colour the program's coupling graph (dsatur or greedy) for colour-parallel updates."""

    name = "tsu-colour"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(ColourPattern(), apply_recursively=False).rewrite_module(op)


# -- schedule ----------------------------------------------------------------------------------


def machine_program(colour: ColourOp) -> MachineProgram:
    q = colour.program.owner
    assert isinstance(q, QuantizeOp)
    rows, cols, Jq = program_arrays(q)
    n = q.program.type.size.data  # type: ignore[attr-defined]
    hq = tensor_value(q.fields, q, "fields").reshape(-1).astype(np.int64)
    colours = tensor_value(colour.colours, colour, "colours").reshape(-1).astype(np.int64)
    return MachineProgram(n, rows, cols, Jq, hq, colours, q.scale.value.data)


class SchedulePattern(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SampleOp, rewriter: PatternRewriter) -> None:
        opts = _options(op)
        if opts is None or not _ising(op) or op.beta0 is not None or not isinstance(op.inputs[0].owner, ColourOp):
            return
        hot, cold = default_beta_range(machine_program(op.inputs[0].owner))
        beta0 = opts.beta0 if opts.beta0 > 0 else hot
        beta1 = opts.beta1 if opts.beta1 > 0 else (op.beta.value.data if op.beta.value.data > 0 else cold)
        op.properties["beta0"] = FloatAttr(beta0, Float64Type())
        op.properties["beta"] = FloatAttr(beta1, Float64Type())
        if op.schedule is None:
            op.properties["schedule"] = StringAttr(opts.schedule)
        rewriter.notify_op_modified(op)


@dataclass(frozen=True)
class TsuSchedulePass(ModulePass):
    """Fill the anneal schedule of ising sampling: beta0 (hot) and beta (cold), 0 meaning the
    default range from the program (see `tsuc.runtime.tsu.anneal.default_beta_range`)."""

    name = "tsu-schedule"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(SchedulePattern(), apply_recursively=False).rewrite_module(op)

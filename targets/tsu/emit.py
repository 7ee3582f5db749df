"""Emitting tsu segments into the artifact.

An Ising segment (kind `tsu-ising`) stores what the machine runs and what the runtime needs
to score the result, as `.npy` members:

    program_couplings (E, 2) int32, program_weights (E,) int32, program_fields (P,) int32,
    colours (P,) int32                                   -- the quantised, coloured program
    chains (P,) int32                                    -- p-bit -> logical spin (embeddings)
    problem_couplings (E0, 2) int64, problem_weights (E0,) float64, problem_fields (n,)
    float64                                              -- the ORIGINAL problem, for energies

and in `config` the scale, offset, quantisation report, colouring, topology, the default run
(reads, sweeps, schedule, beta0, beta1, tempering) and the machine (n_pbits, clock, energy
per update). A model segment (kind `tsu-sample`) lists its `tsu.sample` ops in order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr

from tsuc.dialects.tsu import ColourOp, EmbedOp, ProblemOp, QuantizeOp, SampleOp
from tsuc.errors import TsucError
from tsuc.targets.tsu.frontend import LABELS_ATTR
from tsuc.targets.tsu.ir import tensor_value


def _attr_py(attr) -> Any:
    if isinstance(attr, IntegerAttr):
        return int(attr.value.data)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    raise TsucError(f"cannot store attribute {attr} in the manifest")


def emit_tsu_segment(target, segment, ctx) -> dict[str, Any]:
    ops = [op for op in segment.body.block.ops if isinstance(op, SampleOp)]
    ising = [op for op in ops if op.kind.data == "ising"]
    if ising:
        if len(ops) != 1:
            raise TsucError(f"tsu segment {segment.sym_name.data} mixes an Ising anneal with other sampling ops")
        return emit_ising(target, ising[0], ctx)
    if not ops:
        raise TsucError(f"tsu segment {segment.sym_name.data} has no tsu.sample op (did tsu-lower-sampling run?)")
    from tsuc.targets.tsu.sampling import emit_sampling

    return emit_sampling(target, segment, ops, ctx)


def emit_ising(target, sample: SampleOp, ctx) -> dict[str, Any]:
    colour = sample.inputs[0].owner
    if not isinstance(colour, ColourOp):
        raise TsucError("tsu.sample \"ising\" must read a coloured program when emitted (run tsu-quantize and tsu-colour)")
    quant = colour.program.owner
    assert isinstance(quant, QuantizeOp)
    source = quant.problem.owner
    embed = source if isinstance(source, EmbedOp) else None
    problem = embed.logical.owner if embed is not None else source
    if not isinstance(problem, ProblemOp):
        raise TsucError("tsu.sample \"ising\" does not trace back to a tsu.problem")
    if sample.beta0 is None:
        raise TsucError("tsu.sample \"ising\" has no schedule when emitted (run tsu-schedule)")

    pbits = quant.program.type.size.data  # type: ignore[attr-defined]
    n = problem.num_spins
    ctx.add_array("program_couplings", tensor_value(quant.couplings, quant, "couplings").reshape(-1, 2).astype(np.int32))
    ctx.add_array("program_weights", tensor_value(quant.weights, quant, "weights").reshape(-1).astype(np.int32))
    ctx.add_array("program_fields", tensor_value(quant.fields, quant, "fields").reshape(-1).astype(np.int32))
    ctx.add_array("colours", tensor_value(colour.colours, colour, "colours").reshape(-1).astype(np.int32))
    if embed is not None:
        ctx.add_array("chains", tensor_value(embed.chains, embed, "chains").reshape(-1).astype(np.int32))
    ctx.add_array("problem_couplings", tensor_value(problem.couplings, problem, "couplings").reshape(-1, 2).astype(np.int64))
    ctx.add_array("problem_weights", tensor_value(problem.weights, problem, "weights").reshape(-1).astype(np.float64))
    ctx.add_array("problem_fields", tensor_value(problem.fields, problem, "fields").reshape(-1).astype(np.float64))

    machine = {k: _attr_py(v) for k, v in sample.machine.data.items()} if sample.machine is not None else target.machine_config()
    config: dict[str, Any] = {
        "spins": n,
        "pbits": pbits,
        "offset": problem.offset.value.data,
        "maxcut": problem.maxcut is not None,
        "scale": quant.scale.value.data,
        "j_bits": quant.j_bits.value.data,
        "h_bits": quant.h_bits.value.data,
        "quantization": {k: _attr_py(v) for k, v in quant.error.data.items()},
        "colouring": colour.method.data,
        "num_colours": colour.num_colours.value.data,
        "topology": embed.topology.data if embed is not None else "complete",
        "defaults": {
            "reads": sample.samples.value.data,
            "sweeps": sample.steps.value.data,
            "schedule": sample.schedule.data if sample.schedule is not None else "geometric",
            "beta0": sample.beta0.value.data,
            "beta1": sample.beta.value.data,
            "tempering": sample.tempering.value.data if sample.tempering is not None else 0,
        },
        "machine": machine,
    }
    if embed is not None:
        config["chain_strength"] = embed.chain_strength.value.data
        if "max_chain" in embed.attributes:
            config["max_chain"] = _attr_py(embed.attributes["max_chain"])
    if LABELS_ATTR in sample.attributes:
        config["labels"] = [a.data for a in sample.attributes[LABELS_ATTR].data]
    return {"kind": "tsu-ising", "config": config}

"""The `tsu` target: Ising problems and sampling ops on a simulated p-bit machine.

Inputs: G-set files (.txt/.gset), BQM JSON (.json) and, from Python, `IsingProblem`s
(`compile_problem`); in ONNX models the random ops (Bernoulli, RandomUniform[Like],
RandomNormal[Like]) become `tsu.sample` segments and everything else runs on the host.

Pipeline on Ising segments: tsu-embed (topology), tsu-quantize (j_bits/h_bits),
tsu-colour, tsu-schedule; on model segments: tsu-lower-sampling. Emission writes the
machine program, the colouring, the chains and the original problem as `.npy` members (see
`emit.py`); the runtime executors are `tsuc.runtime.tsu.executor`.
"""

from __future__ import annotations

from typing import Any

from tsuc.errors import TsucError
from tsuc.targets.base import Option, Target

SAMPLING_OPS = ("onnx.Bernoulli", "onnx.RandomUniformLike", "onnx.RandomNormalLike", "onnx.RandomUniform", "onnx.RandomNormal")


class TsuTarget(Target):
    name = "tsu"
    description = "p-bit machine (thermodynamic sampling unit): Ising/Max-Cut problems and sampling ops"
    options = (
        Option("n_pbits", int, 16384, "p-bits on the machine (capacity; a king topology uses floor(sqrt)^2 of them)", minimum=1),
        Option("j_bits", int, 8, "coupling precision, signed fixed-point bits", minimum=2, maximum=31),
        Option("h_bits", int, 8, "bias precision, signed fixed-point bits", minimum=2, maximum=31),
        Option("topology", str, "complete", "p-bit wiring; sparse ones minor-embed the problem", choices=("complete", "king")),
        Option("chain_strength", float, 0.0, "ferromagnetic chain coupling for embeddings (0: uniform torque compensation)", minimum=0.0),
        Option("embed_seed", int, 0, "random seed of the minor-embedding heuristic", minimum=0, maximum=2**31 - 1),
        Option("colouring", str, "dsatur", "graph colouring for colour-parallel updates", choices=("dsatur", "greedy")),
        Option("reads", int, 16, "default reads (independent anneals) per run", minimum=1, maximum=10**7),
        Option("sweeps", int, 1000, "default sweeps per anneal", minimum=1, maximum=10**8),
        Option("schedule", str, "geometric", "default beta schedule", choices=("constant", "linear", "geometric")),
        Option("beta0", float, 0.0, "default initial (hot) beta; 0: from the problem", minimum=0.0),
        Option("beta1", float, 0.0, "default final (cold) beta; 0: from the problem", minimum=0.0),
        Option("tempering", int, 0, "default parallel-tempering levels per read (0: plain annealing)", minimum=0, maximum=4096),
        Option("clock_hz", float, 1e9, "p-bit clock (the prototype's 1 ns per update)", minimum=1.0),
        Option("energy_per_flip_j", float, 1e-14, "energy per p-bit update in joules (the prototype's 10 fJ)", minimum=0.0),
    )

    def validate(self) -> None:
        if self["tempering"] == 1:
            raise TsucError("option tempering=1 of target tsu must be 0 (off) or at least 2 levels")

    # -- models -------------------------------------------------------------------------------

    def supports(self, op) -> bool:
        return op.name in SAMPLING_OPS

    def unsupported_reason(self, op) -> str:
        return f"target tsu runs only sampling ops ({', '.join(o.split('.', 1)[1] for o in SAMPLING_OPS)}), not {op.name}"

    # -- pipeline ------------------------------------------------------------------------------

    def pipeline(self) -> list:
        from tsuc.targets.tsu.passes import TsuColourPass, TsuEmbedPass, TsuQuantizePass, TsuSchedulePass
        from tsuc.targets.tsu.sampling import TsuLowerSamplingPass

        return [
            TsuEmbedPass(self["topology"], self["n_pbits"], self["chain_strength"], self["embed_seed"]),
            TsuQuantizePass(self["j_bits"], self["h_bits"]),
            TsuColourPass(self["colouring"]),
            TsuSchedulePass(self["schedule"], self["beta0"], self["beta1"]),
            TsuLowerSamplingPass(),
        ]

    def machine_config(self) -> dict[str, Any]:
        return {"n_pbits": self["n_pbits"], "topology": self["topology"], "clock_hz": self["clock_hz"],
                "energy_per_flip_j": self["energy_per_flip_j"]}

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.targets.tsu.emit import emit_tsu_segment

        return emit_tsu_segment(self, segment, ctx)

    def import_object(self, obj: Any) -> Any:
        from tsuc.runtime.tsu.problem import IsingProblem
        from tsuc.targets.tsu.frontend import problem_module

        return problem_module(obj, self) if isinstance(obj, IsingProblem) else None

    def input_formats(self) -> dict[str, Any]:
        from tsuc.targets.tsu.frontend import read_bqm_module, read_gset_module

        return {"gset": read_gset_module, "bqm": read_bqm_module}

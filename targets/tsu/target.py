"""The `tsu` target: Ising problems and sampling ops on a simulated p-bit machine.

Inputs: G-set files (.txt/.gset), BQM JSON (.json) and, from Python, `IsingProblem`s
(`compile_problem`); in ONNX models the random ops (Bernoulli, RandomUniform[Like],
RandomNormal[Like]) become `tsu.sample` segments and everything else runs on the host.

Pipeline (every pass reads the options of the segment it lowers) on Ising segments: tsu-embed (topology), tsu-quantize (j_bits/h_bits),
tsu-colour, tsu-schedule; on model segments: tsu-lower-sampling. Emission writes the
machine program, the colouring, the chains and the original problem as `.npy` members (see
`emit.py`); the runtime executors are `tsuc.runtime.tsu.executor`.
"""

from __future__ import annotations

from typing import Any

from tsuc.runtime.tsu.options import TsuOptions
from tsuc.targets.base import Target

SAMPLING_OPS = ("onnx.Bernoulli", "onnx.RandomUniformLike", "onnx.RandomNormalLike", "onnx.RandomUniform", "onnx.RandomNormal")


class TsuTarget(Target):
    name = "tsu"
    description = "p-bit machine (thermodynamic sampling unit): Ising/Max-Cut problems and sampling ops"
    options_class = TsuOptions
    accelerates = frozenset(SAMPLING_OPS)

    # -- models -------------------------------------------------------------------------------

    def supports(self, op) -> bool:
        return op.name in SAMPLING_OPS

    def unsupported_reason(self, op) -> str:
        return f"target tsu runs only sampling ops ({', '.join(o.split('.', 1)[1] for o in SAMPLING_OPS)}), not {op.name}"

    # -- pipeline ------------------------------------------------------------------------------

    def pipeline(self) -> list[str]:
        return ["tsu-embed", "tsu-quantize", "tsu-colour", "tsu-schedule", "tsu-lower-sampling"]

    def machine_config(self) -> dict[str, Any]:
        return self.options.machine_config()

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        from tsuc.compiler.target_config import segment_options
        from tsuc.targets.tsu.emit import emit_tsu_segment

        return emit_tsu_segment(segment_options(segment, TsuOptions), segment, ctx)

    def import_object(self, obj: Any) -> Any:
        from tsuc.runtime.tsu.problem import IsingProblem
        from tsuc.targets.tsu.frontend import problem_module

        return problem_module(obj, self) if isinstance(obj, IsingProblem) else None

    def input_formats(self) -> dict[str, Any]:
        from tsuc.targets.tsu.frontend import read_bqm_module, read_gset_module

        return {"gset": read_gset_module, "bqm": read_bqm_module}

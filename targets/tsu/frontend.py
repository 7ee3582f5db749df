"""Problem frontends as modules: `func.func @main` holding one tsu segment that anneals the problem.

    func.func @main() -> (samples, energies, best_sample, best_energy[, cut]) {
      %r:5 = tsuc.segment "ising" target "tsu" () {
        %p = tsu.problem ...
        %s:5 = tsu.sample "ising" (%p) samples <reads> steps <sweeps> beta <beta1 or 0 = auto> ...
        tsuc.yield %s#0, ...
      }
      func.return %r#0, ...
    }

The driver reads G-set and BQM files through `TsuTarget.input_formats()`; Python problems
(numpy J/h, QUBOs, `IsingProblem`s) compile with `compile_problem`.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX, ArrayAttr, Float64Type, FloatAttr, IntegerAttr, IntegerType, ModuleOp, StringAttr, TensorType
from xdsl.ir import Block, Region

from tsuc.compiler.blobs import BlobStore, attach_store
from tsuc.compiler.frontends.onnx_import import INPUT_NAMES, OUTPUT_NAMES
from tsuc.dialects.tsu import SampleOp
from tsuc.dialects.tsuc import SegmentOp, TargetAttr, YieldOp
from tsuc.runtime.tsu.problem import IsingProblem
from tsuc.targets.tsu import problems as P
from tsuc.targets.tsu.ir import problem_op

LABELS_ATTR = "tsu.labels"


def output_types(problem: IsingProblem) -> tuple[list[str], list]:
    n = problem.n
    names = ["samples", "energies", "best_sample", "best_energy"]
    types = [TensorType(IntegerType(8), [DYNAMIC_INDEX, n]), TensorType(Float64Type(), [DYNAMIC_INDEX]), TensorType(IntegerType(8), [n]),
             TensorType(Float64Type(), [])]
    if problem.maxcut:
        names.append("cut")
        types.append(TensorType(Float64Type(), []))
    return names, types


def problem_module(problem: IsingProblem, target) -> ModuleOp:
    """The module that anneals `problem` on `target` (a TsuTarget)."""
    store = BlobStore()
    hint = "".join(ch if ch.isalnum() else "_" for ch in (problem.name or "problem"))
    p = problem_op(store, problem, hint)
    names, types = output_types(problem)
    machine = {k: (IntegerAttr(v, 64) if isinstance(v, int) else FloatAttr(v, Float64Type()) if isinstance(v, float) else StringAttr(v))
               for k, v in target.machine_config().items()}
    sample = SampleOp("ising", [p.problem], types, samples=target["reads"], steps=target["sweeps"], beta=target["beta1"],
                      schedule=target["schedule"], tempering=target["tempering"] or None, machine=machine)
    labels = problem.meta.get("labels")
    if labels is not None and [str(x) for x in labels] != [str(k) for k in range(problem.n)]:
        sample.attributes[LABELS_ATTR] = ArrayAttr([StringAttr(str(x)) for x in labels])
    body = Block([p, sample, YieldOp(list(sample.outs))])
    segment = SegmentOp("ising", TargetAttr("tsu", target.values), [], types, Region(body))
    fn_body = Block([segment, func.ReturnOp(*segment.outs)])
    fn = func.FuncOp("main", ([], types), Region(fn_body))
    fn.attributes[INPUT_NAMES] = ArrayAttr([])
    fn.attributes[OUTPUT_NAMES] = ArrayAttr([StringAttr(n) for n in names])
    module = ModuleOp([fn])
    attach_store(module, store)
    return module


def read_gset_module(path: str, target) -> ModuleOp:
    return problem_module(P.read_gset(path), target)


def read_bqm_module(path: str, target) -> ModuleOp:
    return problem_module(P.read_bqm(path), target)


def compile_problem(problem: IsingProblem, output: str | None = None, options: dict[str, Any] | None = None):
    """Compile an `IsingProblem` (e.g. from `problems.from_numpy(J, h)`) for tsu; returns the
    loaded `Executable`. The same as `tsuc.compile(problem, target="tsu", ...)`."""
    from tsuc.compiler.driver import compile_model

    return compile_model(problem, target="tsu", output=output, options=options, command="tsuc.compile(IsingProblem, target='tsu')")

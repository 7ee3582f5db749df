"""The ONNX node test suite, built in memory, run through tsuc's `cpu` target.

`onnx.backend.test.case.node.collect_testcases(None)` builds every node test case (model,
inputs, expected outputs, tolerances) without touching disk. Each case is run twice:

* onnxruntime on the original model: the filter. Only cases onnxruntime passes count, since
  tsuc's host segments run on onnxruntime and cannot be expected to do better;
* `tsuc.compile(model, target="cpu")` then `exe.run`, compared exactly like onnx's backend
  runner compares (`Runner.assert_similar_outputs`: the case's rtol/atol, NaN == NaN,
  integers, bools and strings exact, sequences element by element).

A case ends in one of: `pass`, `wrong` (outputs that differ, with no error: the worst
outcome), `refused` (a `TsucError`: one sentence saying why), `crash` (any other exception).
"""

from __future__ import annotations

import contextlib
import os
import signal
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

OUTCOMES = ("pass", "wrong", "refused", "crash")


@cache
def all_cases() -> list[Any]:
    """Every node test case the installed onnx defines (built in memory, ~8 s)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        warnings.simplefilter("ignore")
        return sorted(collect_testcases(None), key=lambda c: c.name)


ONNX_DATA_SETS = ("simple", "real", "pytorch-converted", "pytorch-operator")


@dataclass
class DiskCase:
    """A model directory of onnx's backend data with its first `test_data_set_*`."""

    name: str
    model: Any
    data_sets: list[tuple[list[Any], list[Any]]]
    rtol: float = 1e-3
    atol: float = 1e-7


def _read_pb(path: str) -> Any:
    """A TensorProto, SequenceProto or OptionalProto `.pb` file as the value it holds."""
    import onnx
    from onnx import numpy_helper

    with open(path, "rb") as f:
        data = f.read()
    for cls, convert in ((onnx.TensorProto, numpy_helper.to_array), (onnx.SequenceProto, numpy_helper.to_list),
                         (onnx.OptionalProto, numpy_helper.to_optional)):
        proto = cls()
        try:
            proto.ParseFromString(data)
            return convert(proto)
        except Exception:  # noqa: BLE001 - try the next kind
            continue
    raise ValueError(f"{path}: not a tensor, sequence or optional")


def disk_cases(subdir: str) -> list[DiskCase]:
    """The cases of one on-disk set of onnx's backend test data (`simple/`, `pytorch-converted/`, ...)."""
    import glob

    import onnx

    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", subdir)
    cases = []
    for path in sorted(glob.glob(os.path.join(root, "*", "model.onnx"))):
        sets = sorted(glob.glob(os.path.join(os.path.dirname(path), "test_data_set_*")))
        if not sets:
            continue
        inputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(sets[0], "input_*.pb")))]
        outputs = [_read_pb(p) for p in sorted(glob.glob(os.path.join(sets[0], "output_*.pb")))]
        cases.append(DiskCase(f"{subdir}/{os.path.basename(os.path.dirname(path))}", onnx.load(path), [(inputs, outputs)]))
    return cases


def case_feeds(case: Any) -> tuple[dict[str, Any], list[Any]]:
    """(inputs by graph input name, expected outputs) of the case's only data set."""
    inputs, outputs = case.data_sets[0]
    init = {t.name for t in case.model.graph.initializer}
    names = [i.name for i in case.model.graph.input if i.name not in init]
    # numpy scalars (np.int32(10)) are 0-d tensors; onnxruntime's Python API takes arrays only
    inputs = [np.asarray(x) if isinstance(x, np.generic) else x for x in inputs]
    return dict(zip(names, inputs)), list(outputs)


def compare(expected: list[Any], got: list[Any], case: Any) -> None:
    """Raise AssertionError unless `got` matches like onnx's backend runner demands."""
    from onnx.backend.test.runner import Runner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Runner.assert_similar_outputs(expected, got, rtol=case.rtol, atol=case.atol)


def onnxruntime_passes(case: Any) -> bool:
    """Whether onnxruntime, run on the original model, reproduces the case's outputs."""
    import onnxruntime as ort

    feeds, expected = case_feeds(case)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        sess = ort.InferenceSession(case.model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        got = sess.run(None, feeds)
        compare(expected, got, case)
    except Exception:
        return False
    return True


@dataclass
class Result:
    name: str
    outcome: str
    message: str = ""


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float):
    def fire(signum, frame):
        raise _Timeout()

    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Any, timeout: float = 120.0) -> Result:
    """Compile the case's model for `cpu`, run it, compare; never raises."""
    import tsuc
    from tsuc.errors import TsucError

    feeds, expected = case_feeds(case)
    try:
        with _deadline(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exe = tsuc.compile(case.model, target="cpu")
            outs = exe.run(feeds)
    except TsucError as e:
        return Result(case.name, "refused", str(e))
    except _Timeout:
        return Result(case.name, "crash", f"timed out after {timeout:.0f} s")
    except Exception as e:  # noqa: BLE001 - a crash is what this records
        return Result(case.name, "crash", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    got = [outs[o.name] for o in exe.outputs]
    try:
        compare(expected, got, case)
    except (AssertionError, TypeError, ValueError) as e:
        return Result(case.name, "wrong", " ".join(str(e).split())[:300])
    return Result(case.name, "pass")


def representative(cases: list[Any], every: int = 5, always: tuple[str, ...] = ()) -> list[Any]:
    """A deterministic subset: every `every`-th case by name, the named ones, and one case of
    each op family (the name up to its second underscore), so each op is seen."""
    chosen: dict[str, Any] = {}
    families: set[str] = set()
    for k, case in enumerate(cases):
        family = "_".join(case.name.split("_")[:2])
        if k % every == 0 or case.name in always or family not in families:
            chosen[case.name] = case
        families.add(family)
    return list(chosen.values())


def summarize(results: list[Result]) -> dict[str, int]:
    counts = {k: 0 for k in OUTCOMES}
    for r in results:
        counts[r.outcome] += 1
    return counts


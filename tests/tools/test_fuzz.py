"""Property-based fuzzing (hypothesis) with a bounded budget; the long campaign is
`benchmarks/fuzz_campaign.py`.

In-process properties cover the cheap surfaces (artifact bytes, `.npy` headers, G-set text,
BQM JSON, option and parameter values): whatever hypothesis generates ends in success or one
`TsucError` sentence. Whole cases (compile and run a mutated model, a tampered artifact)
run in child processes under a memory limit and a timeout (`tsuc.tools.fuzz.run_isolated`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsuc
from tsuc.errors import TsucError
from tsuc.tools import fuzz

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_sentence(fn, *args) -> None:
    try:
        fn(*args)
    except TsucError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))


@pytest.fixture(scope="module")
def artifact_bytes(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fz") / "m.tsuc")
    tsuc.compile(fuzz.seed_models()[0], target="cpu", output=path)
    with open(path, "rb") as f:
        return f.read()


@FAST
@given(data=st.data())
def test_artifact_bytes_mutated(artifact_bytes, tmp_path, data):
    from tsuc.runtime import load

    blob = bytearray(artifact_bytes)
    for at in data.draw(st.lists(st.integers(0, len(blob) - 1), max_size=8)):
        blob[at] ^= 1 << data.draw(st.integers(0, 7))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = tmp_path / "x.tsuc"
    path.write_bytes(bytes(blob))

    def go():
        exe = load(str(path))
        exe.run({"x": np.zeros((2, 8), np.float32)})

    _one_sentence(go)


_DESCR = st.sampled_from(["<f4", "<f8", "|O", "<U4", "|V8", "|b1", "<i8", "<c8", "<M8[s]", "S3", "<f4'", "[('a','<f4')]"])
_SHAPE = st.one_of(st.lists(st.integers(-2**70, 2**70), max_size=4).map(lambda dims: str(tuple(dims))),
                   st.text(max_size=20))


@FAST
@given(descr=_DESCR, shape=_SHAPE, fortran=st.booleans(), extra=st.text(max_size=30))
def test_npy_headers(artifact_bytes, tmp_path, descr, shape, fortran, extra):
    """Any header text in an array member, with checksums recomputed: one sentence."""
    from tsuc.runtime import load

    path = str(tmp_path / "h.tsuc")
    with open(path, "wb") as f:
        f.write(artifact_bytes)

    def edit(manifest, members):
        name = next(n for n, e in manifest["members"].items() if e.get("kind") == "array")
        header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}{extra}"
        body = header.encode("utf-8", "replace")[:60000]
        body += b" " * (-(10 + len(body) + 1) % 64) + b"\n"
        old = members[name]
        members[name] = b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + old[10 + int.from_bytes(old[8:10], "little"):]
        manifest["members"][name]["dtype"] = descr

    fuzz.rewrite_artifact(path, edit)
    _one_sentence(load, path)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                     max_leaves=20)


@FAST
@given(manifest_edit=st.tuples(st.sampled_from(["inputs", "outputs", "segments", "target", "members", "format_version"]), _JSON))
def test_manifest_fields(artifact_bytes, tmp_path, manifest_edit):
    from tsuc.runtime import load

    path = str(tmp_path / "m.tsuc")
    with open(path, "wb") as f:
        f.write(artifact_bytes)
    field, value = manifest_edit
    try:
        fuzz.rewrite_artifact(path, lambda manifest, members: manifest.__setitem__(field, value))
    except (TypeError, ValueError, AttributeError):  # our rewriter cannot write this manifest at all
        return
    _one_sentence(load, path)


@FAST
@given(text=st.text(max_size=200) | st.builds(lambda n, e, lines: f"{n} {e}\n" + "\n".join(" ".join(map(str, ln)) for ln in lines),
                                               st.integers(-5, 2**70), st.integers(-1, 8),
                                               st.lists(st.lists(st.one_of(st.integers(-3, 2**65), st.floats()), max_size=4), max_size=8)))
def test_gset_text(text):
    from tsuc.targets.tsu.problems import parse_gset

    _one_sentence(parse_gset, text)


@FAST
@given(obj=st.fixed_dictionaries({"vartype": st.sampled_from(["SPIN", "BINARY", "x"])},
                                 optional={"linear": _JSON, "quadratic": _JSON, "offset": _JSON, "labels": _JSON}) | _JSON)
def test_bqm_objects(obj):
    from tsuc.targets.tsu.problems import parse_bqm

    _one_sentence(parse_bqm, obj)


_VALUES = st.one_of(st.integers(), st.floats(), st.text(max_size=12), st.booleans(), st.none(),
                    st.lists(st.integers(), max_size=3))


@FAST
@given(target=st.sampled_from(["cpu", "tfmbs", "tsu"]), data=st.data())
def test_target_options(target, data):
    from tsuc.targets.registry import get_target

    names = list(type(get_target(target)).options_class.declared()) + ["fallback", "nope"]
    options = data.draw(st.dictionaries(st.sampled_from(names), _VALUES, max_size=3))
    _one_sentence(get_target, target, options)


@FAST
@given(params=st.dictionaries(st.sampled_from(["reads", "sweeps", "seed", "time_limit", "tempering", "swap_interval",
                                               "beta0", "schedule", "engine", "nope"]), _VALUES, max_size=3))
def test_run_params(params):
    from tsuc.runtime.tsu.options import IsingParams

    _one_sentence(IsingParams.create, params)


# -- whole cases in child processes ------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    box = os.path.join(root, "sandbox")
    os.mkdir(box)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tsuc.tools.fuzz", "tsuc", "onnxruntime"])
    yield box, ctx
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("family", fuzz.FAMILIES)
@SLOW
@given(seed=st.integers(0, 2**31 - 1))
def test_whole_cases_in_a_child(sandbox, family, seed):
    box, ctx = sandbox
    outcome = fuzz.run_isolated(fuzz.make_case(seed, family), box, timeout=60, memory=fuzz.MEMORY_LIMIT, ctx=ctx)
    assert outcome.result == "ok", f"seed {seed} ({outcome.description}): {outcome.result}: {outcome.message}"


def test_the_harness_sees_a_crash_a_hang_and_an_escape(sandbox):
    """The classification itself: a raw exception, a child that sleeps, a file written beside
    the case folder, and an allocation beyond the memory limit each count as failures."""
    box, ctx = sandbox
    cases = {
        "crash": {"python": "raise KeyError('x')"},
        "hang": {"python": "import time; time.sleep(60)"},
        "escape": {"python": "open('../escaped.txt', 'w').write('x')"},
        "memory": {"python": "import numpy; numpy.ones(1 << 34)"},
    }
    for expected, action in cases.items():
        case = fuzz.Case("test", 0, expected, {}, action)
        outcome = fuzz.run_isolated(case, box, timeout=3, memory=2 << 30, ctx=ctx)
        assert outcome.result == {"memory": "crash"}.get(expected, expected), (expected, outcome)
    os.remove(os.path.join(box, "escaped.txt"))

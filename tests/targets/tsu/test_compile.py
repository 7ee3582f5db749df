"""The tsu compile path end to end: problem files and numpy problems -> artifact -> run."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

import tsuc
from tsuc.errors import TsucError
from tsuc.runtime.tsu.reference import _seed, _xorshift32
from tsuc.runtime.tsu.sampling import stream_id
from tsuc.targets.tsu import problems as P
from tsuc.targets.tsu.frontend import compile_problem

DATA = os.path.join(os.path.dirname(__file__), "data")
TINY = os.path.join(DATA, "tiny.txt")


def all_spins(n: int) -> np.ndarray:
    return np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8)


def test_gset_compile_run_finds_the_max_cut(tmp_path):
    out = tmp_path / "tiny.tsuc"
    exe = tsuc.compile(TINY, target="tsu", output=str(out))
    prob = P.read_gset(TINY)
    best_cut = prob.cut(all_spins(prob.n)).max()
    res = tsuc.load(str(out)).run(reads=8, sweeps=200, seed=1)
    assert set(res) == {"samples", "energies", "best_sample", "best_energy", "cut"}
    assert res["samples"].dtype == np.int8 and res["samples"].shape == (8, 6)
    assert set(np.unique(res["samples"])) <= {-1, 1}
    np.testing.assert_array_equal(res["energies"], prob.energy(res["samples"]))
    assert float(res["cut"]) == best_cut == prob.cut(res["best_sample"][None])[0]
    assert float(res["best_energy"]) == prob.energy(res["best_sample"][None])[0]
    assert exe.manifest["segments"][0]["kind"] == "tsu-ising"


def test_runs_are_reproducible_and_artifacts_deterministic(tmp_path):
    a, b = tmp_path / "a.tsuc", tmp_path / "b.tsuc"
    tsuc.compile(TINY, target="tsu", output=str(a))
    tsuc.compile(TINY, target="tsu", output=str(b))
    assert a.read_bytes() == b.read_bytes()
    exe = tsuc.load(str(a))
    r1 = exe.run(reads=4, sweeps=30, seed=7)
    r2 = exe.run(reads=4, sweeps=30, seed=7)
    r3 = exe.run(reads=4, sweeps=30, seed=8)
    np.testing.assert_array_equal(r1["samples"], r2["samples"])
    assert not np.array_equal(r1["samples"], r3["samples"])


def test_profile_reports_machine_figures(tmp_path):
    exe = tsuc.compile(TINY, target="tsu", options={"clock_hz": 1e8, "energy_per_flip_j": 2e-15})
    exe.run(reads=3, sweeps=10, seed=0)
    seg = exe.profile()["segments"][0]
    colours = exe.manifest["segments"][0]["config"]["num_colours"]
    assert seg["sweeps"] == 10 and seg["clocks"] == 10 * colours  # 3 replicas of 6 p-bits fit side by side
    assert seg["spin_updates"] == 10 * 6 * 3
    assert seg["sim_seconds"] == pytest.approx(10 * colours / 1e8)
    assert seg["energy_j"] == pytest.approx(seg["flips"] * 2e-15)  # charged per flip, not per update
    assert seg["updates_per_s"] > 0 and 0 <= seg["flips"] <= seg["spin_updates"]


def test_bqm_compile_finds_the_ground_state(tmp_path):
    rng = np.random.default_rng(3)
    n = 9
    obj = {"vartype": "BINARY", "linear": {str(i): float(rng.normal()) for i in range(n)},
           "quadratic": [[i, j, float(rng.normal())] for i, j in itertools.combinations(range(n), 2) if rng.random() < 0.5],
           "offset": 0.5}
    path = tmp_path / "q.json"
    path.write_text(json.dumps(obj))
    prob = P.read_bqm(path)
    exe = tsuc.compile(str(path), target="tsu", options={"j_bits": 12, "h_bits": 12})
    res = exe.run(reads=16, sweeps=300, seed=2)
    ground = prob.energy(all_spins(n)).min()
    assert float(res["best_energy"]) == pytest.approx(ground)
    assert "cut" not in res
    q = exe.manifest["segments"][0]["config"]["quantization"]
    assert not q["exact"] and q["max_coupling_error"] > 0 and q["energy_error_bound"] >= q["max_coupling_error"]


def test_numpy_problem_and_input_format_override(tmp_path):
    rng = np.random.default_rng(4)
    J = np.triu(rng.integers(-3, 4, size=(7, 7)), 1)
    J = J + J.T
    h = rng.integers(-2, 3, size=7)
    prob = P.from_numpy(J, h, name="np7")
    exe = compile_problem(prob, output=str(tmp_path / "np.tsuc"))
    assert exe.manifest["segments"][0]["config"]["quantization"]["exact"]
    res = exe.run(reads=8, sweeps=200, seed=0)
    assert float(res["best_energy"]) == prob.energy(all_spins(7)).min()
    # a G-set file under another extension, with the format named explicitly
    other = tmp_path / "graph.edges"
    other.write_text(open(TINY).read())
    with pytest.raises(TsucError, match="cannot read extension '.edges'"):
        tsuc.compile(str(other), target="tsu")
    exe2 = tsuc.compile(str(other), target="tsu", input_format="gset")
    assert exe2.manifest["segments"][0]["config"]["maxcut"]


def test_lossy_quantisation_is_reported_and_energies_use_the_original(tmp_path):
    rng = np.random.default_rng(5)
    J = np.triu(rng.normal(size=(8, 8)), 1)
    J = J + J.T
    prob = P.from_numpy(J, rng.normal(size=8) * 0.1)
    exe = compile_problem(prob, options={"j_bits": 3, "h_bits": 3})
    cfg = exe.manifest["segments"][0]["config"]
    assert cfg["quantization"]["relative_coupling_error"] > 0.01
    res = exe.run(reads=4, sweeps=50, seed=0)
    np.testing.assert_allclose(res["energies"], prob.energy(res["samples"]), rtol=1e-12)
    from tsuc.runtime.tsu.executor import IsingSegment

    text = "\n".join(IsingSegment.describe(exe.manifest["segments"][0]))
    assert "max coupling error" in text and "energy error <=" in text


def test_king_topology_embeds_and_reads_back_through_chains():
    # K6 needs chains on a king's graph
    n = 6
    r, c = np.triu_indices(n, 1)
    prob = P.IsingProblem.maxcut_graph(n, r, c, np.ones(r.size), name="k6")
    exe = compile_problem(prob, options={"topology": "king", "n_pbits": 36})
    cfg = exe.manifest["segments"][0]["config"]
    assert cfg["topology"] == "king" and cfg["pbits"] > n and cfg["max_chain"] >= 2
    res = exe.run(reads=8, sweeps=300, seed=3)
    assert res["samples"].shape == (8, n)
    assert float(res["cut"]) == 9.0  # K6 max cut: 3 x 3
    assert "chain_break_fraction" in exe.profile()["segments"][0]


def test_king_embedding_is_deterministic(tmp_path):
    n = 6
    r, c = np.triu_indices(n, 1)
    prob = P.IsingProblem.maxcut_graph(n, r, c, np.ones(r.size), name="k6")
    a, b = tmp_path / "a.tsuc", tmp_path / "b.tsuc"
    compile_problem(prob, output=str(a), options={"topology": "king", "n_pbits": 36})
    compile_problem(prob, output=str(b), options={"topology": "king", "n_pbits": 36})
    assert a.read_bytes() == b.read_bytes()


def test_time_limit_and_tempering():
    exe = tsuc.compile(TINY, target="tsu")
    res = exe.run(reads=2, sweeps=20, seed=1, time_limit=0.2)
    seg = exe.profile()["segments"][0]
    each = seg["anneal_sweeps"] if isinstance(seg["anneal_sweeps"], list) else [seg["anneal_sweeps"]] * seg["runs"]
    # complete anneals only (one may run a compressed schedule if the machine stalls near the limit)
    assert seg["runs"] >= 1 and sum(each) == seg["sweeps"] and all(1 <= k <= 20 for k in each)
    assert float(res["cut"]) == 7.0  # two triangles: at most 9 - 2 edges cut
    res = exe.run(reads=3, sweeps=100, seed=1, tempering=4, beta0=0.2, beta1=3.0)
    assert res["samples"].shape == (3, 6)
    assert exe.profile()["segments"][0]["replicas"] == 12


def test_run_parameter_errors():
    exe = tsuc.compile(TINY, target="tsu")
    with pytest.raises(TsucError, match="tempering=1"):
        exe.run(tempering=1)
    with pytest.raises(TsucError, match="reads=0"):
        exe.run(reads=0)
    with pytest.raises(TsucError, match="unknown run parameter"):
        exe.run(temperature=3)
    with pytest.raises(TsucError, match="tsu.schedule=cubic must be one of"):
        exe.run(schedule="cubic")
    with pytest.raises(TsucError, match="swap_interval=0"):
        exe.run(tempering=2, swap_interval=0)
    for bad in ("inf", "nan", "-1", "1e30"):
        with pytest.raises(TsucError, match="time_limit="):
            exe.run(time_limit=bad)
    with pytest.raises(TsucError, match="sweeps=1000000000000"):
        exe.run(sweeps=10**12)


def test_compile_errors():
    with pytest.raises(TsucError, match="has 6 spins but the machine has n_pbits=4"):
        tsuc.compile(TINY, target="tsu", options={"n_pbits": 4})
    with pytest.raises(TsucError, match="option tsu.tempering=1"):
        tsuc.compile(TINY, target="tsu", options={"tempering": 1})
    with pytest.raises(TsucError, match="option tsu.beta1=nan must be finite"):
        tsuc.compile(TINY, target="tsu", options={"beta1": "nan"})
    with pytest.raises(TsucError, match="option tsu.beta1=inf must be finite"):
        tsuc.compile(TINY, target="tsu", options={"beta1": "inf"})
    with pytest.raises(TsucError, match="option tsu.sweeps=1000000000000 must be at most"):
        tsuc.compile(TINY, target="tsu", options={"sweeps": 10**12})
    with pytest.raises(TsucError, match="does not embed into a king topology of 4 p-bits"):
        compile_problem(P.read_gset(TINY), options={"topology": "king", "n_pbits": 4})


# -- sampling ops in models ---------------------------------------------------------------------


def sampling_model():
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("p", TensorProto.FLOAT, [50, 40])
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [50, 40]) for name in ("b", "u", "g")]
    nodes = [
        helper.make_node("Sigmoid", ["p"], ["s"]),
        helper.make_node("Bernoulli", ["s"], ["b"]),
        helper.make_node("RandomUniformLike", ["p"], ["u"], low=-1.0, high=3.0),
        helper.make_node("RandomNormalLike", ["p"], ["g"], mean=2.0, scale=0.5),
    ]
    graph = helper.make_graph(nodes, "sampling", [x], outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_sampling_model_compiles_to_tsu_segments():
    exe = tsuc.compile(sampling_model(), target="tsu")
    kinds = [(s["target"], s["kind"]) for s in exe.manifest["segments"]]
    assert ("tsu", "tsu-sample") in kinds and ("host", "onnx") in kinds
    x = np.random.default_rng(0).normal(size=(50, 40)).astype(np.float32)
    out = exe.run({"p": x}, seed=11)
    again = exe.run({"p": x}, seed=11)
    for k in out:
        np.testing.assert_array_equal(out[k], again[k])
    b, u, g = out["b"], out["u"], out["g"]
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    # deterministic seed: sums of 2000 independent Bernoullis within 4 sigma of the mean
    assert abs(b.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    assert set(np.unique(b)) <= {0.0, 1.0} and b.dtype == np.float32
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 4 * 4 / np.sqrt(12 * 2000)
    assert abs(g.mean() - 2.0) < 4 * 0.5 / np.sqrt(2000) and abs(g.std() - 0.5) < 0.05
    prof = [s for s in exe.profile()["segments"] if s["target"] == "tsu"][0]
    assert prof["spin_updates"] == 2000 * (1 + 1 + 2)  # Box-Muller takes two draws


def test_bernoulli_is_the_pbit_rule_bit_for_bit():
    """Element k of a Bernoulli op is p-bit k: its register (seed, stream, k) steps once and
    the p-bit fires iff the top 24 bits are below round(2^24 p)."""
    exe = tsuc.compile(sampling_model(), target="tsu")
    seg = [s for s in exe.manifest["segments"] if s["target"] == "tsu"][0]
    x = np.random.default_rng(1).normal(size=(50, 40)).astype(np.float32)
    b = exe.run({"p": x}, seed=5)["b"].reshape(-1)
    # the Sigmoid runs on the host in float32, as onnxruntime computes it
    import onnxruntime as ort
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Sigmoid", ["p"], ["s"])], "s",
                          [helper.make_tensor_value_info("p", TensorProto.FLOAT, [50, 40])],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT, [50, 40])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"p": x})[0].reshape(-1)
    stream = stream_id(seg["name"], 0)
    for k in range(0, 2000, 37):
        u = _xorshift32(_seed(5, stream, k)) >> 8
        assert b[k] == (1.0 if u < int(np.rint(np.float64(s[k]) * (1 << 24))) else 0.0)

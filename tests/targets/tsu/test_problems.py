"""Problem model and frontends: exact energies against brute force and against dimod."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tsu.problem import IsingProblem
from tsuc.targets.tsu import problems as P

DATA = os.path.join(os.path.dirname(__file__), "data")


def all_spins(n: int) -> np.ndarray:
    return np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8)


def brute_energy(J: np.ndarray, h: np.ndarray, offset: float, s: np.ndarray) -> np.ndarray:
    """H(s) = -1/2 s^T J s - h^T s + offset straight from the definition (J may have a diagonal)."""
    s = s.astype(np.float64)
    return -0.5 * np.einsum("ki,ij,kj->k", s, J, s) - s @ h + offset


def random_problem(rng, n: int, density: float = 0.6) -> tuple[np.ndarray, np.ndarray, float]:
    J = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < density), 1)
    J = J + J.T
    return J, rng.normal(size=n), float(rng.normal())


def test_energy_matches_definition_and_dense_roundtrip():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 9):
        J, h, off = random_problem(rng, n)
        diag = rng.normal(size=n)
        Jd = J + np.diag(diag)  # a diagonal is a constant shift the problem keeps exactly
        prob = IsingProblem.from_dense(Jd, h, off)
        s = all_spins(n)
        np.testing.assert_allclose(prob.energy(s), brute_energy(Jd, h, off, s), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(prob.dense_J(), J)
        # local fields: I = J s + h with the zero-diagonal J
        np.testing.assert_allclose(prob.local_fields(s), s @ J + h, atol=1e-12)


def test_dense_energy_path_matches_sparse_path():
    rng = np.random.default_rng(1)
    J, h, off = random_problem(rng, 12, density=1.0)  # dense: energies take the matmul path
    dense = IsingProblem.from_dense(J, h, off)
    sparse = IsingProblem.from_dense(J * (np.abs(J) > 1.2), h, off)
    s = rng.choice([-1, 1], size=(50, 12))
    np.testing.assert_allclose(dense.energy(s), brute_energy(J, h, off, s), rtol=1e-12)
    Js = J * (np.abs(J) > 1.2)
    np.testing.assert_allclose(sparse.energy(s), brute_energy(Js, h, off, s), rtol=1e-12)


def test_from_edges_adds_repeated_pairs_in_either_order():
    prob = IsingProblem.from_edges(3, [0, 1, 0, 2], [1, 0, 2, 0], [1.0, 2.0, 0.5, -0.5])
    # (0,1) twice -> 3; (0,2) and (2,0) cancel and are dropped
    assert prob.rows.tolist() == [0] and prob.cols.tolist() == [1] and prob.J.tolist() == [3.0]
    with pytest.raises(TsucError, match="coupled to itself"):
        IsingProblem.from_edges(3, [1], [1], [1.0])
    with pytest.raises(TsucError, match="not symmetric"):
        IsingProblem.from_dense(np.array([[0, 1], [2, 0]]))


def test_gset_maxcut_cut_and_energy():
    prob = P.read_gset(os.path.join(DATA, "tiny_pm.txt"))
    assert prob.maxcut and prob.n == 5 and prob.name == "tiny_pm"
    edges = [(0, 1, 1), (0, 2, -1), (1, 2, 1), (1, 3, -1), (2, 4, 1), (3, 4, 1), (0, 4, -1)]
    s = all_spins(5)
    cut = np.array([sum(w * (a[i] != a[j]) for i, j, w in edges) for a in s])
    np.testing.assert_array_equal(prob.cut(s), cut)
    # H = sum w s_i s_j (J = -w), and cut = (W - H) / 2
    H = np.array([sum(w * a[i] * a[j] for i, j, w in edges) for a in s])
    np.testing.assert_allclose(prob.energy(s), H)
    np.testing.assert_allclose(prob.cut(s), (sum(w for *_, w in edges) - H) / 2)


def test_gset_roundtrip_text():
    rng = np.random.default_rng(3)
    edges = np.array([(0, 3), (1, 2), (2, 3), (0, 1)])
    w = rng.integers(-3, 4, size=4)
    w[w == 0] = 1
    prob = P.parse_gset(P.format_gset(4, edges, w), "x.txt")
    s = all_spins(4)
    expect = np.array([sum(wk * (a[i] != a[j]) for (i, j), wk in zip(edges, w)) for a in s])
    np.testing.assert_array_equal(prob.cut(s), expect)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("3\n", "line 1: the header must be `N E`"),
        ("3 x\n1 2 1\n", "line 1: edge count 'x' is not an integer"),
        ("3 2\n1 2 1\n", "promises 2 edge line"),
        ("3 1\n1 2 1\n2 3 1\n", "line 3: the header promises 1"),
        ("3 2\n1 2 1\n2 3\n", "line 3: an edge line must be `i j w`"),
        ("3 2\n1 2 1\n2 q 1\n", "line 3: node 'q' is not an integer"),
        ("3 2\n1 2 1\n2 3 z\n", "line 3: weight 'z' is not a number"),
        ("3 2\n1 2 1\n0 3 1\n", "line 3: node numbers must lie in 1..3"),
        ("3 2\n1 2 1\n3 3 1\n", "line 3: edge \\(3, 3\\) is a self-loop"),
        ("3 1\n1 2 nan\n", "line 2: weight 'nan' is not finite"),
    ],
)
def test_gset_errors_name_file_and_line(text, message):
    with pytest.raises(TsucError, match=message) as err:
        P.parse_gset(text, "bad.txt")
    assert str(err.value).startswith("bad.txt")
    assert "\n" not in str(err.value)


def test_gset_missing_file():
    with pytest.raises(TsucError, match="cannot read the G-set file"):
        P.read_gset("/nonexistent/G1.txt")


def random_bqm(rng, n: int, vartype: str) -> dict:
    linear = {str(i): float(rng.normal()) for i in range(n) if rng.random() < 0.8}
    quad = []
    for i, j in itertools.combinations(range(n), 2):
        if rng.random() < 0.5:
            quad.append([i, j, float(rng.normal())])
    quad.append([1, 0, 0.75])  # a repeated pair (reversed) adds
    return {"vartype": vartype, "linear": linear, "quadratic": quad, "offset": float(rng.normal())}


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_bqm_energies_match_dimod(vartype):
    dimod = pytest.importorskip("dimod")
    rng = np.random.default_rng(7)
    for n in (2, 4, 8):
        obj = random_bqm(rng, n, vartype)
        prob = P.parse_bqm(obj, "r.json")
        bqm = dimod.BQM(vartype)
        bqm.add_variables_from({int(k): v for k, v in obj["linear"].items()})
        bqm.add_variables_from({i: 0.0 for i in range(n)})
        for u, v, b in obj["quadratic"]:
            bqm.add_interaction(u, v, b)
        bqm.offset = obj["offset"]
        s = all_spins(n)
        v = s if vartype == "SPIN" else (s + 1) // 2
        expect = bqm.energies((v, list(range(n))))
        np.testing.assert_allclose(prob.energy(s), expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_bqm_json_roundtrip_is_exact(vartype, tmp_path):
    rng = np.random.default_rng(11)
    J, h, off = random_problem(rng, 7)
    prob = P.from_numpy(J, h, off)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(P.bqm_json(prob, vartype)))
    back = P.read_bqm(path)
    s = all_spins(7)
    np.testing.assert_allclose(back.energy(s), prob.energy(s), rtol=1e-12, atol=1e-12)
    if vartype == "SPIN":  # the SPIN round trip is bit-identical
        np.testing.assert_array_equal(back.J, prob.J)
        np.testing.assert_array_equal(back.h, prob.h)
        assert back.offset == prob.offset


def test_dyadic_conversions_are_bit_exact():
    """With small integer coefficients every conversion step is exact in float64."""
    rng = np.random.default_rng(5)
    n = 6
    Q = np.triu(rng.integers(-8, 9, size=(n, n))).astype(float)
    prob = P.qubo_to_ising(Q, offset=3.0)
    x = (all_spins(n) + 1) // 2
    expect = np.einsum("ki,ij,kj->k", x, Q, x) + 3.0
    assert np.array_equal(prob.energy(2 * x - 1), expect)
    Q2, off2 = P.ising_to_qubo(prob)
    assert np.array_equal(np.einsum("ki,ij,kj->k", x, Q2, x) + off2, expect)
    assert np.array_equal(np.triu(Q2), Q2)


def test_qubo_ising_roundtrip_random():
    rng = np.random.default_rng(9)
    for n in (1, 3, 7):
        Q = rng.normal(size=(n, n))  # not triangular: x^T Q x uses the symmetric part
        prob = P.qubo_to_ising(Q, offset=0.5)
        x = (all_spins(n) + 1) // 2
        expect = np.einsum("ki,ij,kj->k", x, Q, x) + 0.5
        np.testing.assert_allclose(prob.energy(2 * x - 1), expect, rtol=1e-12, atol=1e-12)
        Q2, off2 = P.ising_to_qubo(prob)
        np.testing.assert_allclose(np.einsum("ki,ij,kj->k", x, Q2, x) + off2, expect, rtol=1e-12, atol=1e-12)


def test_bqm_string_labels_and_errors():
    prob = P.parse_bqm({"vartype": "SPIN", "linear": {"b": 1.0, "a": -2.0}, "quadratic": [["a", "c", 0.5]], "offset": 0})
    assert prob.meta["labels"] == ["b", "a", "c"]
    s = np.array([[1, -1, 1]])  # b=+1, a=-1, c=+1: E = 1*1 + (-2)(-1) + 0.5*(-1)(1)
    np.testing.assert_allclose(prob.energy(s), [1 + 2 - 0.5])
    bad = [
        ({"vartype": "INT", "linear": {}}, "vartype"),
        ({"vartype": "SPIN", "linear": {"0": "x"}}, "linear bias of '0'"),
        ({"vartype": "SPIN", "quadratic": [[0, 0, 1.0]]}, "couples variable 0 to itself"),
        ({"vartype": "SPIN", "quadratic": [[0, 1]]}, "quadratic entry 0 must be"),
        ({"vartype": "SPIN", "linear": {}, "extra": 1}, "unknown BQM key"),
        ({"vartype": "SPIN", "linear": {}}, "no variables"),
    ]
    for obj, message in bad:
        with pytest.raises(TsucError, match=message):
            P.parse_bqm(obj, "b.json")


def test_bqm_bad_json_names_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"vartype": "SPIN",\n "linear": {,}}')
    with pytest.raises(TsucError, match=r"x.json, line 2: the BQM file is not valid JSON"):
        P.read_bqm(path)


def test_format_for_extension():
    assert P.format_for("G1.txt") == "gset" and P.format_for("a.GSET") == "gset"
    assert P.format_for("p.json") == "bqm" and P.format_for("m.onnx") is None


def gset_dir() -> str | None:
    """The shared G-set folder: ../shared/data/gset beside the repo (CI), or /work/shared."""
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "..", "..", "shared", "data", "gset"), "/work/shared/data/gset"):
        if os.path.isfile(os.path.join(cand, "G1.txt")):
            return os.path.normpath(cand)
    return None


def test_real_gset_file_loads():
    folder = gset_dir()
    if folder is None:
        pytest.skip("G-set data not found at ../shared/data/gset or /work/shared/data/gset")
    prob = P.read_gset(os.path.join(folder, "G1.txt"))
    assert (prob.n, prob.num_couplings) == (800, 19176)
    assert prob.total_weight() == 19176.0
    s = np.ones((1, 800), dtype=np.int8)
    assert prob.cut(s)[0] == 0.0 and prob.energy(s)[0] == 19176.0

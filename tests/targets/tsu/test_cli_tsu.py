"""`tsuc compile/run/inspect` on problem files (in process, through click's runner)."""

from __future__ import annotations

import os

import numpy as np
from click.testing import CliRunner

from tsuc.targets.tsu import problems as P
from tsuc.tools.cli import main

DATA = os.path.join(os.path.dirname(__file__), "data")
TINY_PM = os.path.join(DATA, "tiny_pm.txt")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compile_run_prints_best_energy_and_cut(tmp_path):
    art = str(tmp_path / "t.tsuc")
    r = invoke("compile", TINY_PM, "--target=tsu", "-o", art)
    assert r.exit_code == 0, r.output
    out_dir = tmp_path / "out"
    r = invoke("run", art, "--param", "reads=6", "--param", "sweeps=200", "--param", "seed=1", "--output-dir", str(out_dir), "--profile")
    assert r.exit_code == 0, r.output
    prob = P.read_gset(TINY_PM)
    import itertools

    spins = np.array(list(itertools.product([-1, 1], repeat=prob.n)))
    best_cut = prob.cut(spins).max()
    lines = r.output.splitlines()
    assert f"cut: {best_cut:.10g}" in lines
    assert any(line.startswith("best energy: ") for line in lines)
    samples = np.load(out_dir / "samples.npy")
    energies = np.load(out_dir / "energies.npy")
    assert samples.dtype == np.int8 and samples.shape == (6, prob.n)
    np.testing.assert_array_equal(energies, prob.energy(samples))
    for key in ("clocks=", "sweeps=200", "spin_updates=", "updates_per_s=", "sim_seconds=", "energy_j="):
        assert key in r.output


def test_inspect_shows_quantisation_and_colouring(tmp_path):
    art = str(tmp_path / "t.tsuc")
    invoke("compile", TINY_PM, "--target=tsu", "-o", art, "--option", "j_bits=4", "--option", "sweeps=77")
    r = invoke("inspect", art)
    assert r.exit_code == 0
    assert "quantisation: j_bits=4 h_bits=8 scale=1; exact" in r.output
    assert "colours (dsatur)" in r.output and "x 77 sweeps" in r.output


def test_malformed_gset_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("3 2\n1 2 1\n2 x 1\n")
    r = CliRunner().invoke(main, ["compile", str(bad), "--target=tsu"])
    assert r.exit_code == 1
    err = r.stderr if hasattr(r, "stderr") and r.stderr else r.output
    line = [ln for ln in err.splitlines() if ln.strip()]
    assert len(line) == 1 and line[0].startswith("error: ") and "line 3: node 'x' is not an integer" in line[0]


def test_bqm_json_by_extension(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"vartype": "SPIN", "linear": {"0": 1.0, "1": -1.0}, "quadratic": [[0, 1, -2.0]], "offset": 0.0}')
    art = str(tmp_path / "p.tsuc")
    assert invoke("compile", str(path), "--target=tsu", "-o", art).exit_code == 0
    r = invoke("run", art, "--param", "reads=4", "--param", "sweeps=50")
    # E = s0 - s1 - 2 s0 s1: the ground states (1,1) and (-1,-1) have E = -2
    assert "best energy: -2" in r.output


def test_run_refuses_what_the_machine_cannot_hold_in_one_line(tmp_path):
    art = str(tmp_path / "t.tsuc")
    assert invoke("compile", TINY_PM, "--target=tsu", "-o", art).exit_code == 0
    for param, words in (("time_limit=inf", "parameter tsu.time_limit=inf must be finite"),
                         ("time_limit=0", "parameter tsu.time_limit=0 must be at least 0.001"),
                         ("swap_interval=0", "parameter tsu.swap_interval=0 must be at least 1"),
                         ("reads=1000000000000", "parameter tsu.reads=1000000000000 must be at most 65536"),
                         ("sweeps=1000000000000", "parameter tsu.sweeps=1000000000000 must be at most 10000000")):
        r = CliRunner().invoke(main, ["run", art, "--param", param, "--param", "tempering=2"])
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], r.output
    r = CliRunner().invoke(main, ["compile", TINY_PM, "--target=tsu", "-o", art, "--option", "j_bits=32"])
    assert r.exit_code == 1 and "j_bits=" in r.output and "at most 31" in r.output


def test_wide_couplings_compile_and_run_with_a_bounded_table(tmp_path):
    art = str(tmp_path / "t.tsuc")
    assert invoke("compile", TINY_PM, "--target=tsu", "-o", art, "--option", "j_bits=31").exit_code == 0
    r = invoke("run", art, "--param", "reads=4", "--param", "sweeps=100", "--param", "seed=1")
    assert r.exit_code == 0 and "cut:" in r.output

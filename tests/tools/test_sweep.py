"""`tsuc sweep` / `tsuc.sweep`: grid parsing, the rows against a direct compile and run, failed
points, resuming, the Pareto front, Ising problems, and Ray (local and a second head on
loopback). The Ray tests are small: two points, one or two CPUs."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import tsuc
from tests.tools.models import relu_mlp
from tsuc.errors import TsucError
from tsuc.runtime.inputs import make_random_inputs
from tsuc.tools.sweep import (
    accuracy,
    grid_points,
    pareto_front,
    parse_grid,
    split_point,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TINY_GSET = os.path.join(ROOT, "tests", "targets", "tsu", "data", "tiny.txt")


@pytest.fixture
def mlp(tmp_path):
    return relu_mlp(str(tmp_path / "mlp.onnx"), seed=0)


def read_csv(folder):
    with open(os.path.join(folder, "sweep.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_parse_grid_and_points():
    grid = parse_grid(["w_planes=1,2", "tfmbs.tiles=4, 8"])
    assert grid == {"w_planes": ["1", "2"], "tfmbs.tiles": ["4", "8"]}
    assert grid_points(grid) == [{"w_planes": "1", "tfmbs.tiles": "4"}, {"w_planes": "1", "tfmbs.tiles": "8"},
                                 {"w_planes": "2", "tfmbs.tiles": "4"}, {"w_planes": "2", "tfmbs.tiles": "8"}]
    for bad, msg in (("w_planes", "KEY=V1"), ("w_planes=1,,2", "empty"), ("w_planes=1,1", "repeats")):
        with pytest.raises(TsucError, match=msg):
            parse_grid([bad])
    with pytest.raises(TsucError, match="twice"):
        parse_grid(["a=1", "a=2"])


def test_split_point_routes_options_and_parameters():
    options, params = split_point("tsu", {"j_bits": "4", "tsu.schedule": "linear", "seed": "3", "tsu.sweeps": "10"})
    assert options == {"j_bits": "4", "tsu.schedule": "linear", "tsu.sweeps": "10"}
    assert params == {"seed": "3"}


def test_pareto_front_and_accuracy():
    pts = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (2.0, 3.5)]
    assert pareto_front(pts) == [0, 1, 3]
    want = {"y": np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)}
    got = {"y": np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 2.0]], np.float32)}
    acc = accuracy(got, want)
    assert acc["top1"] == 0.5
    assert acc["rel_l2"] == pytest.approx(np.sqrt(0.25 + 8.0) / np.sqrt(5.0))


def test_sweep_rows_match_a_direct_run_and_resume(mlp, tmp_path):
    out = str(tmp_path / "out")
    calls = []
    rows = tsuc.sweep(mlp, "tfmbs", {"w_planes": [1, 2], "act_trits": [1, 5]}, out, workers=0, seed=4,
                      progress=lambda done, total, row: calls.append((done, total)))
    assert [r["point"] for r in rows] == ["w_planes=1 act_trits=1", "w_planes=1 act_trits=5",
                                          "w_planes=2 act_trits=1", "w_planes=2 act_trits=5"]
    assert calls[-1] == (4, 4)
    assert all(r["status"] == "ok" for r in rows)
    # one point against a compile and run done here, with the same inputs
    art = str(tmp_path / "point.tsuc")
    exe = tsuc.compile(mlp, target="tfmbs", options={"w_planes": 2, "act_trits": 5}, output=art)
    feeds = make_random_inputs(exe.inputs, 4)
    got = exe.run(feeds)["y"].astype(np.float64)
    want = tsuc.compile(mlp, target="cpu").run(feeds)["y"].astype(np.float64)
    row = read_csv(out)[3]
    total = exe.profile()["total"]
    assert int(row["cycles"]) == total["cycles"]
    assert float(row["energy_j"]) == pytest.approx(total["energy_j"], rel=1e-9)
    assert float(row["rel_l2"]) == pytest.approx(np.linalg.norm(got - want) / np.linalg.norm(want), rel=1e-9)
    assert float(row["top1"]) == np.mean(got.argmax(-1) == want.argmax(-1))
    segs = [s for s in exe.profile()["segments"] if "utilization" in s]
    util = sum(s["utilization"] * s["cycles"] for s in segs) / sum(s["cycles"] for s in segs)
    assert float(row["utilization"]) == pytest.approx(util, abs=1e-6)
    assert float(row["device_us"]) == pytest.approx(total["cycles"] / exe.target_options["tfmbs"]["clock_mhz"], rel=1e-6)
    weights = 16 * 24 + 24 * 5  # the artifact differs from the sweep's only in its recorded command
    assert float(row["bits_per_weight"]) == pytest.approx(8 * os.path.getsize(art) / weights, rel=0.02)
    # more weight planes: more frames, fewer errors (the sweep really changed the options)
    by = {r["point"]: r for r in read_csv(out)}
    assert int(by["w_planes=2 act_trits=5"]["cycles"]) > int(by["w_planes=1 act_trits=5"]["cycles"])
    assert float(by["w_planes=2 act_trits=5"]["rel_l2"]) < float(by["w_planes=1 act_trits=5"]["rel_l2"])
    assert os.path.getsize(os.path.join(out, "pareto.png")) > 10_000
    # resume: a wider grid runs only the new points; a bad value fails its own row only
    calls.clear()
    rows = tsuc.sweep(mlp, "tfmbs", {"w_planes": [1, 2, 99], "act_trits": [1, 5]}, out, workers=0, seed=4,
                      progress=lambda done, total, row: calls.append((done, total)))
    assert calls[-1] == (2, 2)
    assert len(rows) == 6 and len(read_csv(out)) == 6
    bad = [r for r in read_csv(out) if r["w_planes"] == "99"]
    assert [r["status"] for r in bad] == ["error", "error"]
    assert "w_planes" in bad[0]["error"] and "at most 8" in bad[0]["error"]
    try:
        import pyarrow.parquet as pq
    except ImportError:
        pass
    else:
        table = pq.read_table(os.path.join(out, "sweep.parquet")).to_pylist()
        assert [r["point"] for r in table] == [r["point"] for r in read_csv(out)]
        assert table[5]["status"] == "error" and table[5]["cycles"] is None
        assert table[3]["cycles"] == float(read_csv(out)[3]["cycles"])
    with pytest.raises(TsucError, match="other columns"):
        tsuc.sweep(mlp, "tfmbs", {"tiles": [1]}, out, workers=0)


def test_sweep_of_an_ising_problem(tmp_path):
    out = str(tmp_path / "ising")
    rows = tsuc.sweep(TINY_GSET, "tsu", {"j_bits": [2, 8], "schedule": ["linear"]}, out, workers=0,
                      params={"reads": 2, "sweeps": 20})
    assert all(r["status"] == "ok" for r in rows), rows
    exe = tsuc.compile(TINY_GSET, target="tsu", options={"j_bits": 8, "schedule": "linear"})
    outs = exe.run({}, reads=2, sweeps=20)
    assert float(rows[1]["cut"]) == float(outs["cut"])
    assert float(rows[1]["best_energy"]) == float(outs["best_energy"])
    assert rows[1]["cycles"] == exe.profile()["total"]["clocks"]
    assert os.path.isfile(os.path.join(out, "pareto.png"))


def test_cli_sweep_errors(mlp, tmp_path):
    from click.testing import CliRunner

    from tsuc.tools.cli import main

    res = CliRunner().invoke(main, ["sweep", mlp, "--target", "tfmbs", "--grid", "w_planes", "-o", str(tmp_path)])
    assert res.exit_code == 1 and "error: --grid 'w_planes' is not of the form" in res.output
    res = CliRunner().invoke(main, ["sweep", mlp, "--target", "nosuch", "--grid", "a=1", "-o", str(tmp_path)])
    assert res.exit_code == 1 and "unknown target 'nosuch'" in res.output


# -- Ray ----------------------------------------------------------------------------------


ray = pytest.importorskip("ray")


def _env():
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=os.pathsep.join(p for p in [os.path.dirname(ROOT), os.environ.get("PYTHONPATH", "")] if p))
    return env


def test_sweep_on_local_ray(mlp, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    out = str(tmp_path / "ray")
    rows = tsuc.sweep(mlp, "tfmbs", {"w_planes": [1, 2]}, out, workers=2, seed=1)
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    serial = tsuc.sweep(mlp, "tfmbs", {"w_planes": [1, 2]}, str(tmp_path / "serial"), workers=0, seed=1)
    for a, b in zip(rows, serial):
        assert (a["cycles"], a["energy_j"], a["rel_l2"]) == (b["cycles"], b["energy_j"], b["rel_l2"])
    assert not ray.is_initialized()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_sweep_joins_a_second_ray_head(mlp, tmp_path):
    """A Ray head started here on loopback (its own temp dir and session), joined with
    --address, and stopped by killing the processes this test started."""
    if shutil.which("ray") is None:
        pytest.skip("the ray command is not installed")
    port = _free_port()
    temp = f"/tmp/rt{os.getpid()}"
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
                             "--num-cpus", "1", "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        out = str(tmp_path / "cluster")
        deadline = time.time() + 120
        res = None
        while time.time() < deadline:
            res = subprocess.run([sys.executable, "-m", "tsuc", "sweep", mlp, "--target", "tfmbs", "--grid", "w_planes=1,2",
                                  "--workers", "1", "--address", f"127.0.0.1:{port}", "-o", out],
                                 env=_env(), capture_output=True, text=True, timeout=300)
            if res.returncode == 0 or "cannot start or join" not in res.stderr:
                break
            time.sleep(3)  # the head is still starting
        assert res is not None and res.returncode == 0, res.stderr[-2000:]
        assert "2 point(s), 0 failed" in res.stdout
        rows = read_csv(out)
        assert [r["status"] for r in rows] == ["ok", "ok"]
        assert int(rows[1]["cycles"]) > int(rows[0]["cycles"])
    finally:
        os.killpg(head.pid, 15)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)

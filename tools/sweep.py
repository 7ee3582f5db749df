"""Design-space sweeps: compile and run one model (or Ising problem) over a grid of target
options, one Ray task per grid point, and tabulate what each configuration costs and loses.

    tsuc sweep mlp.onnx --target tfmbs --grid w_planes=1,2,3 --grid act_trits=1,3,5 -o out/
    tsuc.sweep("mlp.onnx", "tfmbs", {"w_planes": [1, 2, 3]}, output_dir="out/")

Each point compiles the model with the point's options, runs it on the same inputs, and
records its options, compile seconds, run milliseconds, simulated cycles and device time,
utilisation, energy, the artifact's bits per weight, and its accuracy against the reference
target (relative L2 error of the outputs and top-1 agreement for models; best cut and energy
for Ising problems). A point that fails keeps its row, with the error.

Points run as Ray tasks: a local Ray is started in this process by default (`workers` CPUs),
`address` joins a running cluster (`ray start --head`; the nodes need tsuc installed, or see
the PYTHONPATH note in `_runtime_env`). `workers=0` runs the points here, one after another,
without Ray. The model file and the inputs travel with the tasks, so workers need no shared
file system. Results go to `DIR/sweep.csv` as each point finishes (so an interrupted sweep
resumes: points already in the CSV are skipped), `DIR/sweep.parquet` when pyarrow is
installed, and `DIR/pareto.png`, the Pareto front of energy against error (or cut).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tsuc.errors import TsucError

METRICS = ["status", "error", "compile_s", "run_ms", "cycles", "device_us", "utilization", "energy_j",
           "bits_per_weight", "rel_l2", "top1", "cut", "best_energy"]
"""Columns after the point's label and its grid values; empty where a metric does not apply."""

PROBLEM_EXTENSIONS = (".txt", ".gset", ".json")


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    """`["w_planes=1,2", "tfmbs.tiles=4,8"]` -> `{"w_planes": ["1", "2"], "tfmbs.tiles": ["4", "8"]}`."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TsucError(f"--grid {item!r} is not of the form KEY=V1,V2,...")
        if key in grid:
            raise TsucError(f"--grid {key} is given twice")
        vals = [v.strip() for v in values.split(",")]
        if not all(vals):
            raise TsucError(f"--grid {item!r} has an empty value")
        if len(set(vals)) != len(vals):
            raise TsucError(f"--grid {item!r} repeats a value")
        grid[key] = vals
    return grid


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, str]]:
    """The cartesian product, first key outermost, values as strings (as the CLI gives them)."""
    keys = list(grid)
    return [dict(zip(keys, map(str, combo))) for combo in itertools.product(*(grid[k] for k in keys))]


def point_label(point: Mapping[str, str]) -> str:
    return " ".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())


# -- one point ------------------------------------------------------------------------------


def run_point(model_bytes: bytes, model_name: str, target: str, point: dict[str, str], params: dict[str, str],
              feeds: dict[str, np.ndarray] | None, reference: dict[str, np.ndarray] | None,
              n_weights: int | None) -> dict[str, Any]:
    """Compile and run one grid point; returns its row (errors recorded, never raised).

    Runs in a Ray worker (or in the calling process with `workers=0`)."""
    row: dict[str, Any] = {"point": point_label(point), **point, "status": "ok"}
    try:
        row.update(_measure(model_bytes, model_name, target, point, params, feeds, reference, n_weights))
    except TsucError as e:
        row.update(status="error", error=" ".join(str(e).split()))
    except Exception as e:  # noqa: BLE001 - a crashing point is a row, not the end of the sweep
        row.update(status="error", error=f"internal error: {type(e).__name__}: {' '.join(str(e).split())}")
    return row


def _measure(model_bytes: bytes, model_name: str, target: str, point: dict[str, str], params: dict[str, str],
             feeds: dict[str, np.ndarray] | None, reference: dict[str, np.ndarray] | None,
             n_weights: int | None) -> dict[str, Any]:
    from tsuc.compiler.driver import compile_model

    options, run_params = split_point(target, point)
    run_params = {**params, **run_params}
    with tempfile.TemporaryDirectory(prefix="tsuc-sweep-") as tmp:
        src = os.path.join(tmp, model_name)
        with open(src, "wb") as f:
            f.write(model_bytes)
        out = os.path.join(tmp, "point.tsuc")
        t0 = time.perf_counter()
        exe = compile_model(src, target=target, options=options, output=out,
                            command=f"tsuc sweep {model_name} --target={target} {point_label(point)}")
        compile_s = time.perf_counter() - t0
        artifact_bytes = os.path.getsize(out)
    t0 = time.perf_counter()
    outs = exe.run(dict(feeds or {}), **run_params)
    run_ms = (time.perf_counter() - t0) * 1e3
    prof = exe.profile()
    total = prof.get("total", {})
    row: dict[str, Any] = {"compile_s": round(compile_s, 4), "run_ms": round(run_ms, 3)}
    cycles = total.get("cycles", total.get("clocks"))
    if cycles is not None:
        row["cycles"] = int(cycles)
    sims = [ex.simulated_us() for ex in exe.executors if ex.spec["target"] != "host"]
    if any(s is not None for s in sims):
        row["device_us"] = round(sum(s for s in sims if s is not None), 6)
    util = _utilization(prof.get("segments", []))
    if util is not None:
        row["utilization"] = round(util, 6)
    if "energy_j" in total:
        row["energy_j"] = float(total["energy_j"])
    if n_weights:
        row["bits_per_weight"] = round(8.0 * artifact_bytes / n_weights, 4)
    if "cut" in outs:
        row["cut"] = float(np.asarray(outs["cut"]))
    if "best_energy" in outs:
        row["best_energy"] = float(np.asarray(outs["best_energy"]))
    if reference is not None:
        row.update(accuracy({k: np.asarray(v) for k, v in outs.items()}, reference))
    return row


def split_point(target: str, point: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The point's keys that are options of the listed targets (compile options), and the rest
    (run parameters, checked when the artifact runs)."""
    from tsuc.targets.registry import COMPILE_OPTIONS, resolve_targets

    targets, _ = resolve_targets(target, {})
    declared = {t.name: set(type(t).options_class.declared()) for t in targets}
    options, params = {}, {}
    for key, value in point.items():
        owner, _, bare = key.rpartition(".")
        is_option = (bare in declared.get(owner, ())) if owner else (
            key in COMPILE_OPTIONS or any(key in names for names in declared.values()))
        (options if is_option else params)[key] = value
    return options, params


def _utilization(segments: Sequence[Mapping[str, Any]]) -> float | None:
    """Cycle-weighted mean utilisation over the segments that report one."""
    pairs = [(float(s["utilization"]), float(s.get("cycles", 1) or 1)) for s in segments if "utilization" in s]
    if not pairs:
        return None
    weight = sum(w for _, w in pairs)
    return sum(u * w for u, w in pairs) / weight


def accuracy(outs: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Relative L2 error over every float output, and top-1 agreement of the first output
    whose last axis holds more than one class."""
    num = den = 0.0
    top1 = None
    for name, want in reference.items():
        got = np.asarray(outs.get(name))
        if got.shape != want.shape:
            raise TsucError(f"output {name!r} has shape {got.shape}, the reference {want.shape}")
        if want.dtype.kind != "f":
            continue
        num += float(np.sum((got.astype(np.float64) - want.astype(np.float64)) ** 2))
        den += float(np.sum(want.astype(np.float64) ** 2))
        if top1 is None and want.ndim >= 1 and want.shape[-1] > 1:
            top1 = float(np.mean(np.argmax(got, axis=-1) == np.argmax(want, axis=-1)))
    out = {"rel_l2": math.sqrt(num / den) if den > 0 else math.sqrt(num)}
    if top1 is not None:
        out["top1"] = top1
    return out


# -- the sweep ------------------------------------------------------------------------------


def sweep(model: str, target: str, grid: Mapping[str, Sequence[Any]], output_dir: str,
          params: Mapping[str, Any] | None = None, inputs: str | Mapping[str, np.ndarray] | None = None,
          random_inputs: bool = True, seed: int = 0, reference: str | None = "cpu", workers: int = 2,
          address: str | None = None, progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every grid point not already in `output_dir/sweep.csv`; returns all rows (old and new).

    `inputs`: a folder of NAME.npy files or a dict of arrays; otherwise random inputs from
    `seed`. `reference`: the target whose outputs are the truth for models (None: no accuracy
    columns). `workers`: local Ray CPUs, or at most this many points in flight on a cluster
    (`address`); 0 runs the points here without Ray. `progress(done, total, row)` is called
    as points finish."""
    if not os.path.isfile(model):
        raise TsucError(f"{model}: no such file")
    if not grid:
        raise TsucError("a sweep needs at least one --grid KEY=V1,V2,...")
    if workers < 0:
        raise TsucError("--workers must be 0 (no Ray) or more")
    grid = {k: [str(v) for v in vs] for k, vs in grid.items()}
    params = {k: str(v) for k, v in (params or {}).items()}
    points = grid_points(grid)
    for point in points[:1]:
        split_point(target, point)  # unknown targets fail here, before Ray starts
    os.makedirs(output_dir, exist_ok=True)
    csv_path = os.path.join(output_dir, "sweep.csv")
    columns = ["point", *grid, *METRICS]
    done_rows = _read_csv(csv_path, columns)
    done = {r["point"] for r in done_rows}
    todo = [p for p in points if point_label(p) not in done]

    with open(model, "rb") as f:
        model_bytes = f.read()
    name = os.path.basename(model)
    is_problem = name.lower().endswith(PROBLEM_EXTENSIONS)
    feeds, ref_outs, n_weights = _prepare(model, is_problem, inputs, random_inputs, seed, reference)
    rows = list(done_rows)
    if todo:
        with open(csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            if not done_rows:
                writer.writeheader()
            args = (model_bytes, name, target)
            for k, row in enumerate(_execute(todo, args, params, feeds, ref_outs, n_weights, workers, address), 1):
                writer.writerow(row)
                f.flush()
                rows.append(row)
                if progress:
                    progress(k, len(todo), row)
    order = {point_label(p): i for i, p in enumerate(points)}
    rows.sort(key=lambda r: order.get(r["point"], len(order)))
    if todo:  # rewrite in grid order (rows were appended as they finished)
        tmp = csv_path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, csv_path)
    _write_parquet(rows, columns, os.path.join(output_dir, "sweep.parquet"))
    plot_pareto(rows, list(grid), os.path.join(output_dir, "pareto.png"), title=f"{name} on {target}")
    return rows


def _prepare(model: str, is_problem: bool, inputs: Any, random_inputs: bool, seed: int, reference: str | None):
    """Inputs, reference outputs and the weight count, computed once here for every point."""
    from tsuc.compiler.driver import compile_model
    from tsuc.runtime.inputs import make_random_inputs

    if is_problem:
        return None, None, _problem_weights(model)
    import onnx

    proto = onnx.load(model)
    n_weights = sum(int(np.prod(t.dims)) for t in proto.graph.initializer) or None
    ref_exe = compile_model(model, target=reference or "cpu")
    if isinstance(inputs, str):
        feeds = load_inputs_dir(inputs, ref_exe.inputs)
    elif inputs is not None:
        feeds = {k: np.asarray(v) for k, v in inputs.items()}
    elif random_inputs:
        feeds = make_random_inputs(ref_exe.inputs, seed)
    else:
        raise TsucError("give --inputs DIR or --random-inputs")
    ref_outs = None
    if reference:
        ref_outs = {k: np.asarray(v) for k, v in ref_exe.run(feeds).items()}
    return feeds, ref_outs, n_weights


def load_inputs_dir(folder: str, specs: Sequence[Any]) -> dict[str, np.ndarray]:
    """`DIR/<input name>.npy` for every input (name made filesystem-safe as `tsuc run` does)."""
    import re

    if not os.path.isdir(folder):
        raise TsucError(f"--inputs {folder}: no such folder")
    feeds = {}
    for spec in specs:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.name).strip(".") or "output"
        path = os.path.join(folder, safe + ".npy")
        if not os.path.isfile(path):
            raise TsucError(f"--inputs {folder}: no {safe}.npy for input {spec.name!r}")
        try:
            feeds[spec.name] = np.load(path, allow_pickle=False)
        except Exception:  # noqa: BLE001 - any unreadable file is the same user error
            raise TsucError(f"--inputs {path}: not a .npy array file") from None
    return feeds


def _problem_weights(path: str) -> int | None:
    """Couplings of a G-set file (its header's edge count); None for other formats."""
    if not path.lower().endswith((".txt", ".gset")):
        return None
    with open(path) as f:
        head = f.readline().split()
    return int(head[1]) if len(head) >= 2 and head[1].isdigit() else None


def _execute(points: list[dict[str, str]], args: tuple, params: dict[str, str], feeds: Any, reference: Any,
             n_weights: int | None, workers: int, address: str | None) -> Iterable[dict[str, Any]]:
    """Rows of `points`, in the order they finish."""
    if workers == 0 and address is None:
        for point in points:
            yield run_point(*args, point, params, feeds, reference, n_weights)
        return
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"runtime_env": _runtime_env(), "log_to_driver": False, "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=max(workers, 1), include_dashboard=False, object_store_memory=128 << 20)
        try:
            ray.init(**kwargs)
        except Exception as e:  # noqa: BLE001 - Ray's own errors, made one sentence
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise TsucError(f"cannot start or join {where}: {' '.join(str(e).split())[:300]}") from None
        started = True
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_point)
        shared = [ray.put(x) for x in (args[0], feeds, reference)]
        limit = max(workers, 1)
        pending: dict[Any, dict[str, str]] = {}
        queue = list(points)
        while queue or pending:
            while queue and len(pending) < limit:
                point = queue.pop(0)
                ref = task.remote(shared[0], args[1], args[2], point, params, shared[1], shared[2], n_weights)
                pending[ref] = point
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                point = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a lost worker fails its point only
                    yield {"point": point_label(point), **point, "status": "error",
                           "error": f"ray task failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}"}
    finally:
        if started:
            ray.shutdown()


def _runtime_env() -> dict[str, Any]:
    """Workers see this process's tsuc: its folder goes first on their PYTHONPATH (harmless
    on a cluster whose nodes have tsuc installed elsewhere), one BLAS/OpenMP thread each
    (the points are the parallelism)."""
    import tsuc

    here = os.path.dirname(os.path.dirname(os.path.abspath(tsuc.__file__)))
    path = os.pathsep.join(p for p in [here, os.environ.get("PYTHONPATH", "")] if p)
    return {"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}


def _import_ray():
    try:
        import ray
    except ImportError:
        raise TsucError("sweeping on Ray needs ray: pip install 'tsuc[sweep]' (or use --workers 0)") from None
    return ray


# -- files ------------------------------------------------------------------------------------


def _read_csv(path: str, columns: list[str]) -> list[dict[str, Any]]:
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise TsucError(f"{path} holds a sweep with other columns ({', '.join(reader.fieldnames or [])}); "
                            "write this one to another folder")
        return [_typed(r) for r in reader]


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in METRICS and k not in ("status", "error") and v not in ("", None):
            out[k] = float(v)
        else:
            out[k] = v
    return out


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], path: str) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    table = {c: [r.get(c) if r.get(c) != "" else None for r in rows] for c in columns}
    pq.write_table(pa.table({c: pa.array(v) if c not in METRICS[2:] else pa.array(
        [None if x is None else float(x) for x in v], pa.float64()) for c, v in table.items()}), path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both minimised),
    ordered by the first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def plot_pareto(rows: Sequence[Mapping[str, Any]], keys: list[str], path: str, title: str = "") -> str | None:
    """Energy against error (models) or against cut (problems), the front drawn and every point
    labelled by its options. Returns the path, or None when no point has both figures."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TsucError("plots need matplotlib: pip install 'tsuc[sweep]'") from None
    ok = [r for r in rows if r.get("status") == "ok" and _num(r.get("energy_j")) is not None]
    if any(_num(r.get("rel_l2")) is not None for r in ok):
        ylabel, get, sign = "relative L2 error vs reference", (lambda r: _num(r.get("rel_l2"))), 1.0
    elif any(_num(r.get("cut")) is not None for r in ok):
        ylabel, get, sign = "best cut (higher is better)", (lambda r: _num(r.get("cut"))), -1.0
    elif any(_num(r.get("best_energy")) is not None for r in ok):
        ylabel, get, sign = "best Ising energy", (lambda r: _num(r.get("best_energy"))), 1.0
    else:
        return None
    ok = [r for r in ok if get(r) is not None]
    if not ok:
        return None
    xs = [_num(r["energy_j"]) for r in ok]
    ys = [get(r) for r in ok]
    front = pareto_front([(x, sign * y) for x, y in zip(xs, ys)])
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    ax.scatter(xs, ys, c="0.6", s=24, label="grid points", zorder=2)
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", color="tab:red", ms=6, lw=1.5,
            label="Pareto front", zorder=3, drawstyle="steps-post")
    log = min(xs) > 0 and max(xs) / min(xs) > 100
    if log:
        ax.set_xscale("log")
    for i, dy in _label_offsets(xs, ys, log, sorted(range(len(ok)), key=lambda i: (i not in front, xs[i]))):
        label = " ".join(f"{k.split('.')[-1]}={ok[i].get(k)}" for k in keys)
        ax.annotate(label, (xs[i], ys[i]), fontsize=6.5, xytext=(4, 2 + dy), textcoords="offset points",
                    color="tab:red" if i in front else "0.35",
                    arrowprops={"arrowstyle": "-", "color": "0.7", "lw": 0.5} if dy else None)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.18 * (hi - lo))  # room for the labels moved up
    ax.set_xlabel("energy per run (J, simulated)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: {len(front)} of {len(ok)} points on the front" if title else "Pareto front")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _label_offsets(xs: Sequence[float], ys: Sequence[float], log: bool, order: Sequence[int]) -> list[tuple[int, int]]:
    """Vertical offsets (points) that keep labels of nearby points from printing on top of
    each other: each label moves up past the labels already placed near it."""
    def norm(values: Sequence[float], use_log: bool) -> list[float]:
        v = [math.log10(x) if use_log else x for x in values]
        lo, hi = min(v), max(v)
        return [(x - lo) / (hi - lo) if hi > lo else 0.5 for x in v]

    nx, ny = norm(xs, log), norm(ys, False)
    placed: list[tuple[float, float]] = []
    out = []
    for i in order:
        y = ny[i]
        while any(abs(nx[i] - px) < 0.3 and abs(y - py) < 0.03 for px, py in placed):
            y += 0.03
        placed.append((nx[i], y))
        out.append((i, round((y - ny[i]) / 0.03 * 8)))
    return out


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def progress_printer() -> tuple[Callable[[int, int, dict[str, Any]], None], Callable[[], None]]:
    """A rich progress bar on a terminal (stderr), nothing otherwise; returns (update, close)."""
    if not sys.stderr.isatty():
        return (lambda done, total, row: None), (lambda: None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.description}"), console=Console(stderr=True))
    bar.start()
    task = bar.add_task("", total=None)

    def update(done: int, total: int, row: dict[str, Any]) -> None:
        bar.update(task, completed=done, total=total, description=f"{row['point']}: {row['status']}")

    return update, bar.stop

"""`tsuc run --plot FILE.png`: the simulated device timeline as a picture.

Drawn from the same trace events as `--trace` (so the PNG and the Perfetto view agree):
the top panel is the simulated timeline of the segments (host segments at their measured
wall time, accelerator segments at their simulated device time); below it, one panel per
accelerator device with a row per track (for the fabric: one per tile, plus DMA), each
event a bar. An executor whose profile carries `energy_trace` (energy after each sweep)
gets a panel of it; for p-bit segments that do not record one, the panel shows the
energies of the reads the run returned, the part of the anneal that the outputs keep.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from tsuc.errors import TsucError

_COLOURS = {"host": "0.65", "tfmbs": "tab:blue", "tsu": "tab:orange"}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TsucError("--plot needs matplotlib: pip install 'tsuc[sweep]'") from None
    return plt


def plot_timeline(exe: Any, outputs: dict[str, Any], path: str) -> str:
    """Write the picture of the last run of `exe` to `path`; returns `path`."""
    plt = _pyplot()
    events = exe.trace_events()
    if not events:
        raise TsucError("nothing to plot: the artifact has not run")
    names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    tracks: dict[int, dict[int, str]] = defaultdict(dict)
    for e in events:
        if e.get("ph") == "M" and e["name"] == "thread_name":
            tracks[e["pid"]][e["tid"]] = e["args"]["name"]
    spans: dict[int, dict[int, list[tuple[float, float, str]]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        if e.get("ph") == "X":
            spans[e["pid"]][e.get("tid", 0)].append((float(e["ts"]), float(e.get("dur", 0.0)), str(e.get("cat", ""))))
    devices = sorted(pid for pid in set(spans) | set(tracks) if pid >= 10)
    rows_of = {pid: sorted(set(tracks[pid]) | set(spans[pid])) for pid in devices}  # idle tracks too
    energy_panels = _energy_panels(exe, outputs)
    heights = [1.2] + [max(1.0, 0.28 * len(rows_of[p])) for p in devices] + [1.6] * len(energy_panels)
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, 1.0 + 1.3 * sum(heights)), dpi=110,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    axes = axes[:, 0]
    timeline = [e for e in events if e.get("ph") == "X" and e["pid"] == 2]
    ax = axes[0]
    for e in timeline:
        target = e["args"].get("target", "host")
        ax.barh(0, e["dur"], left=e["ts"], height=0.6, color=_COLOURS.get(target, "tab:green"), edgecolor="k", lw=0.4)
        if e["dur"] > 0:
            ax.text(e["ts"] + e["dur"] / 2, 0, e["name"], ha="center", va="center", fontsize=7, clip_on=True)
    ax.set_yticks([0], ["segments"])
    ax.set_title(names.get(2, "simulated timeline"), fontsize=9, loc="left")
    end = max((e["ts"] + e["dur"] for e in timeline), default=1.0)
    for k, pid in enumerate(devices, 1):
        ax = axes[k]
        rows = rows_of[pid]
        for row, tid in enumerate(rows):
            bars = spans[pid][tid]
            ax.broken_barh([(ts, max(dur, end * 1e-4)) for ts, dur, _ in bars], (row - 0.35, 0.7),
                           facecolors=["tab:purple" if "dma" in cat else "tab:blue" for _, _, cat in bars],
                           edgecolors="none")
        ax.set_yticks(range(len(rows)), [tracks[pid].get(t, f"track {t}") for t in rows], fontsize=7)
        ax.invert_yaxis()
        counts = ", ".join(f"{tracks[pid].get(t, t)}: {len(spans[pid][t])}" for t in rows[:6])
        ax.set_title(f"{names.get(pid, f'device {pid}')} - events per track: {counts}"
                     + (" ..." if len(rows) > 6 else ""), fontsize=9, loc="left")
    for ax in axes[: 1 + len(devices)]:
        ax.set_xlim(0, end * 1.01)
        ax.grid(True, axis="x", alpha=0.3)
    axes[len(devices)].set_xlabel("simulated time (us)")
    for ax, (title, kind, values) in zip(axes[1 + len(devices):], energy_panels):
        if kind == "trace":
            ax.plot(np.arange(1, len(values) + 1), values, lw=1.2)
            ax.set_xlabel("sweep")
            ax.set_ylabel("energy")
        else:
            ax.hist(values, bins=min(30, max(5, len(values))), color="tab:orange", edgecolor="k", lw=0.4)
            ax.axvline(float(np.min(values)), color="k", ls="--", lw=1)
            ax.set_xlabel("Ising energy of each read (dashed: best)")
            ax.set_ylabel("reads")
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _energy_panels(exe: Any, outputs: dict[str, Any]) -> list[tuple[str, str, np.ndarray]]:
    panels = []
    for ex in exe.executors:
        prof = ex.profile()
        trace = prof.get("energy_trace")
        if trace:
            panels.append((f"{ex.name}: energy over sweeps", "trace", np.asarray(trace, np.float64)))
        elif ex.spec["kind"] == "tsu-ising" and len(ex.spec["outputs"]) >= 2:
            energies = outputs.get(ex.spec["outputs"][1])
            if energies is not None:
                panels.append((f"{ex.name}: final energies of {np.asarray(energies).size} reads", "hist",
                               np.asarray(energies, np.float64).ravel()))
    return panels

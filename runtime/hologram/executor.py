"""`HologramSegment`: runs a hologram segment's fused kernels on one preallocated class pool.

At load: one `Pool` per segment (96 classes + the segment's linear pool, 64-byte aligned);
every placed buffer is a view into it; constants are copied into their views once; fused
intermediates (values that live inside one kernel, in the engine) get scratch arrays reused
by liveness; every op becomes a closure over buffer ids (`kernels.compile_step`), and the
cost model prices every kernel once (`machine.kernel_cost`): shapes are static.

At run: segment inputs are bound by reference (no copy; their place in the pool is where
the modelled engine holds them), outputs are written by their last op straight into fresh
arrays handed to the caller (no copy out), everything between kernels goes through the pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.hologram.kernels import compile_step, work_rows
from tsuc.runtime.hologram.machine import Machine, kernel_cost, op_counts
from tsuc.runtime.hologram.pool import Pool

CONFIG_VERSION = 1


class HologramSegment(SegmentExecutor):
    kind = "hologram"

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        cfg = spec.get("config", {})
        if cfg.get("version") != CONFIG_VERSION:
            raise ArtifactError(f"{artifact.path}: hologram segment {self.name!r} has config version {cfg.get('version')!r}, this runtime reads {CONFIG_VERSION}")
        try:
            self.machine = Machine.from_dict(cfg["machine"])
            self.values: list[dict[str, Any]] = cfg["values"]
            self.kernels: list[dict[str, Any]] = cfg["kernels"]
            self.input_ids: list[int] = cfg["inputs"]
            self.output_ids: list[int] = cfg["outputs"]
            self.stats: dict[str, Any] = cfg["stats"]
        except (KeyError, TypeError):
            raise ArtifactError(f"{artifact.path}: hologram segment {self.name!r} has a malformed config") from None
        self.pool = Pool(int(self.stats.get("linear_bytes", 0)))
        self.bufs: list[Any] = [None] * len(self.values)
        for k, v in enumerate(self.values):
            if v["place"] is not None:
                self.bufs[k] = self.pool.view(v["place"], v["shape"])
        for vid, member in cfg.get("constants", {}).items():
            array = artifact.array(member)
            target = self.bufs[int(vid)]
            if target is None or target.shape != array.shape:
                raise ArtifactError(f"{artifact.path}: hologram constant {member!r} does not match its buffer")
            np.copyto(target, array)
        self._view_ids = self._assign_scratch()
        self.programs = [[compile_step(op, self.values, op["out"] in self._view_ids) for op in kern["ops"]]
                         for kern in self.kernels]
        self.program = [step for prog in self.programs for step in prog]

        self.costs = [self._kernel_cost(kern) for kern in self.kernels]
        self._produced = {op["out"] for kern in self.kernels for op in kern["ops"]}

    # -- load-time preparation -------------------------------------------------------------

    def _assign_scratch(self) -> set[int]:
        """Scratch arrays for unplaced values, reused once their last reader has run.

        A reshape of an unplaced value is a view of it (no array of its own), so the array
        behind it stays taken while any view of it is live. Returns the ids that are views."""
        ops = [op for kern in self.kernels for op in kern["ops"]]
        root: dict[int, int] = {}
        views: set[int] = set()
        outputs = set(self.output_ids)
        for op in ops:
            o = op["out"]
            if self.values[o]["place"] is None and o not in outputs:
                if op["op"] == "reshape":
                    views.add(o)
                    src = op["in"][0]
                    if src in root:  # a view of a scratch array keeps it taken
                        root[o] = root[src]
                else:
                    root[o] = o
        last: dict[int, int] = {}
        for t, op in enumerate(ops):
            for i in op["in"]:
                if i in root:
                    last[root[i]] = t
            if op["out"] in root:
                last.setdefault(root[op["out"]], t)
                last[root[op["out"]]] = max(last[root[op["out"]]], t)
        free: dict[tuple, list[np.ndarray]] = {}
        live: list[tuple[int, int, np.ndarray]] = []  # (last use, id, array)
        for t, op in enumerate(ops):
            o = op["out"]
            if o in root and root[o] == o:
                shape = tuple(self.values[o]["shape"])
                pool = free.get(shape)
                arr = pool.pop() if pool else np.empty(shape, np.float32)
                self.bufs[o] = arr
                live.append((last[o], o, arr))
            still = []
            for end, vid, arr in live:
                if end <= t and vid != o:
                    free.setdefault(arr.shape, []).append(arr)
                else:
                    still.append((end, vid, arr))
            live = still
        return views

    def _kernel_cost(self, kern: dict[str, Any]) -> dict[str, float]:
        linear = 0
        for vid in list(kern["ins"]) + list(kern["outs"]):
            place = self.values[vid]["place"]
            if place is not None and place[0] == "linear":
                linear += 4 * int(np.prod(self.values[vid]["shape"], dtype=np.int64))
        ops = []
        for op in kern["ops"]:
            work, rows = work_rows(op, self.values)
            ops.append({"op": op["op"], "work": work, "rows": rows})
        return kernel_cost(self.machine, ops, linear)

    # -- running -----------------------------------------------------------------------------

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        bufs = self.bufs
        for name, vid in zip(self.spec["inputs"], self.input_ids):
            x = feeds[name]
            if x.dtype != np.float32:
                x = x.astype(np.float32)
            if list(x.shape) != list(self.values[vid]["shape"]):
                raise TsucError(f"hologram segment {self.name!r}: input {name!r} has shape {list(x.shape)}, expected {self.values[vid]['shape']}")
            bufs[vid] = x
        results = {name: np.empty(self.values[vid]["shape"], np.float32) for name, vid in zip(self.spec["outputs"], self.output_ids)}
        bound: dict[int, np.ndarray] = {}  # outputs written in place by their op (first name of a repeated value)
        placed: dict[int, Any] = {}
        for name, vid in zip(self.spec["outputs"], self.output_ids):
            if vid in self._produced and vid not in bound:
                bound[vid] = results[name]
                placed[vid] = bufs[vid]
                bufs[vid] = results[name]
        with np.errstate(all="ignore"):
            for step in self.program:
                step(bufs)
        for name, vid in zip(self.spec["outputs"], self.output_ids):
            if vid in bound:
                if results[name] is not bound[vid]:  # the same value under a second name
                    np.copyto(results[name], bound[vid])
            else:  # a segment input or constant handed straight back
                np.copyto(results[name], bufs[vid])
        for vid, view in placed.items():
            bufs[vid] = view
        return results

    # -- hooks -------------------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        cycles = sum(c["cycles"] for c in self.costs)
        return {
            "kernels": len(self.kernels),
            "ops_original": self.stats["ops_original"],
            "ops_canonical": self.stats["ops_canonical"],
            "reduction_pct": self.stats["reduction_pct"],
            "classes_used": self.stats["classes_used"],
            "spill_bytes": self.stats["spill_bytes"],
            "cycles": cycles,
            "energy_j": sum(c["energy_j"] for c in self.costs),
            "lane_ops": sum(c["lane_ops"] for c in self.costs),
            "linear_bytes_moved": sum(c["linear_bytes"] for c in self.costs),
            "sim_time_s": cycles / (self.machine.clock_mhz * 1e6),
        }

    def op_counters(self) -> dict[str, int]:
        """Lane-ops by step kind, reduction-tree outputs and op count, from the static shapes
        (what the cost model prices; the reference interpreter counts the same from arrays)."""
        total = {"s": 0, "d": 0, "t": 0, "trees": 0, "ops": 0}
        for kern in self.kernels:
            for op in kern["ops"]:
                work, rows = work_rows(op, self.values)
                for k, v in op_counts(op["op"], work, rows).items():
                    total[k] += v
                total["ops"] += 1
        return total

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        s = spec.get("config", {}).get("stats", {})
        try:
            return [f"hologram: {s['kernels']} kernel(s), {s['ops_canonical']} op(s) ({s['ops_original']} before "
                    f"canonicalisation, {s['reduction_pct']}% fewer), {s['classes_used']} class(es), {s['spill_bytes']} B spilled"]
        except (KeyError, TypeError):
            return ["(malformed hologram config)"]

    def simulated_us(self) -> float | None:
        return sum(c["cycles"] for c in self.costs) / self.machine.clock_mhz

    def trace_events(self, pid: int, t0_us: float) -> list[dict[str, Any]]:
        """One event per kernel of the last run, in engine time from `t0_us`."""
        events: list[dict[str, Any]] = [{"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                                         "args": {"name": f"{self.name} kernels"}}]
        ts = t0_us
        us_per_cycle = 1.0 / self.machine.clock_mhz
        for kern, cost in zip(self.kernels, self.costs):
            dur = cost["cycles"] * us_per_cycle
            events.append({"name": kern["name"], "cat": "hologram.kernel", "ph": "X", "pid": pid, "tid": 0, "ts": ts,
                           "dur": dur, "args": {"ops": len(kern["ops"]), "cycles": cost["cycles"]}})
            ts += dur
        return events

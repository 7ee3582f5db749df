"""`XlaSegment`: runs an xla segment's HLO on XLA's CPU client and reports the systolic model.

At load: the HLO text is compiled once (cached per loaded artifact, keyed by the text), and
the weight members are placed as device buffers once (DLPack over the artifact's mapped
arrays, no copy). Per run: inputs are handed over by DLPack, outputs come back as numpy views.
`profile()` applies the cycle model (`systolic.py`) to the segment's cost records: per-layer
`compute_cycles`, utilisation, MACs, bytes and energy, computed on demand.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError
from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.xla import client
from tsuc.runtime.xla.systolic import ArrayConfig, profile_ops


class XlaSegment(SegmentExecutor):
    kind = "xla"

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        members = spec.get("members", {})
        if "hlo" not in members:
            raise ArtifactError(f"{artifact.path}: xla segment {self.name!r} has no hlo member")
        config = spec.get("config", {})
        self.text = artifact.bytes(members["hlo"]).decode()
        self.records: list[dict[str, Any]] = artifact.json(members["ops"]) if "ops" in members else []
        self.array = ArrayConfig.from_config(config.get("systolic", {}))
        cache = self.devices.setdefault(("xla", "executables"), {})  # compiled once per loaded artifact
        key = self.text.partition("\n")[2]  # the computation, not the module's name
        start = time.perf_counter()
        if key not in cache:
            cache[key] = client.compile_hlo(self.text)
        self.executable = cache[key]
        self.compile_ms = (time.perf_counter() - start) * 1e3
        self._weights = [artifact.array(m) for m in config.get("weights", [])]
        self._weight_buffers = [client.to_device(w) for w in self._weights]
        self._last_ms = 0.0
        self._profile: dict[str, Any] | None = None

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        buffers = [client.to_device(feeds[n]) for n in self.spec["inputs"]] + self._weight_buffers
        outs = client.execute(self.executable, buffers)
        self._last_ms = (time.perf_counter() - start) * 1e3
        return dict(zip(self.spec["outputs"], outs))

    def layers(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if self._profile is None:
            per_op, total = profile_ops(self.records, self.array)
            self._profile = {"layers": per_op, "total": total}
        return self._profile["layers"], self._profile["total"]

    def profile(self) -> dict[str, Any]:
        layers, total = self.layers()
        return {"host_ms": self._last_ms, "xla_compile_ms": self.compile_ms, "cycles": total["cycles"],
                "compute_cycles": total["compute_cycles"], "macs": total["macs"], "bytes": total["bytes"],
                "energy_j": total["energy_j"], "utilisation": total["utilisation"], "sim_time_ms": total["time_ms"],
                "array": f"{self.array.rows}x{self.array.cols} {self.array.dataflow}", "layers": layers}

    def summary(self, outputs: dict[str, Any]) -> list[str]:
        """Lines `tsuc run` prints after a run: the array model's totals."""
        _layers, total = self.layers()
        a = self.array
        return [f"{self.name}: XLA CPU {self._last_ms:.2f} ms; {a.rows}x{a.cols} {a.dataflow} array at {a.clock_mhz:g} MHz: "
                f"{total['cycles']} cycles ({total['time_ms']:.3f} ms), {total['macs'] / 1e6:.1f} M MACs, "
                f"GEMM utilisation {total['utilisation']:.3f}, {total['energy_j'] * 1e3:.3f} mJ"]

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        """Lines `tsuc inspect` prints for the segment."""
        s = spec.get("config", {}).get("systolic", {})
        return [f"XLA HLO module with {len(spec.get('config', {}).get('weights', []))} weight parameters; "
                f"systolic model {s.get('rows')}x{s.get('cols')} {s.get('dataflow')} at {s.get('clock_mhz')} MHz, "
                f"{s.get('bandwidth_gbps')} GB/s"]

    def simulated_us(self) -> float | None:
        _layers, total = self.layers()
        return total["time_ms"] * 1e3

    def trace_events(self, pid: int, t0_us: float) -> list[dict[str, Any]]:
        """The simulated array timeline of the last run from `t0_us`: one event per hlo op, in
        program order."""
        layers, _total = self.layers()
        events: list[dict[str, Any]] = [{"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                                         "args": {"name": f"{self.array.rows}x{self.array.cols} array"}}]
        ts = t0_us
        us_per_cycle = 1.0 / self.array.clock_mhz
        for entry in layers:
            dur = entry["cycles"] * us_per_cycle
            events.append({"name": entry["layer"], "cat": "xla.op", "ph": "X", "pid": pid, "tid": 0, "ts": ts, "dur": dur,
                           "args": {"op": entry["op"], "compute_cycles": entry["compute_cycles"], "macs": entry["macs"]}})
            ts += dur
        return events

    def optimized_hlo(self) -> str:
        return client.optimized_hlo(self.executable)


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

    def __init__(self, spec: dict[str, Any], artifact: Any) -> None:
        super().__init__(spec, artifact)
        members = spec.get("members", {})
        if "hlo" not in members:
            raise ArtifactError(f"{artifact.path}: xla segment {self.name!r} has no hlo member")
        config = spec.get("config", {})
        self.text = artifact.bytes(members["hlo"]).decode()
        self.records: list[dict[str, Any]] = artifact.json(members["ops"]) if "ops" in members else []
        self.array = ArrayConfig.from_config(config.get("systolic", {}))
        cache = artifact.__dict__.setdefault("_xla_executables", {})
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

    def optimized_hlo(self) -> str:
        return client.optimized_hlo(self.executable)


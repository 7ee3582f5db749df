"""`Executable`: a loaded artifact that runs its segments in order and keeps their profiles."""

from __future__ import annotations

import inspect

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.artifact import ArtifactReader
from tsuc.runtime.executors import Param, SegmentExecutor, executor_class

_DTYPES = {"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "bool"}


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: name, numpy dtype name, shape (None for a dynamic dimension)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @staticmethod
    def from_json(entry: dict[str, Any]) -> TensorSpec:
        return TensorSpec(str(entry["name"]), str(entry["dtype"]), tuple(entry["shape"]))


def load(path: str) -> Executable:
    """Load and verify an artifact; raises `ArtifactError` with one sentence if it is bad."""
    return Executable(ArtifactReader.open(path))


class Executable:
    """Runs an artifact. `run({name: array}, **params)` or `exe(*arrays)`."""

    def __init__(self, artifact: ArtifactReader) -> None:
        self.artifact = artifact
        self.manifest = artifact.manifest
        try:
            self.inputs = [TensorSpec.from_json(e) for e in self.manifest["inputs"]]
            self.outputs = [TensorSpec.from_json(e) for e in self.manifest["outputs"]]
        except (KeyError, TypeError):
            raise ArtifactError(f"{artifact.path}: manifest signatures are malformed") from None
        for spec in self.inputs + self.outputs:
            if spec.dtype not in _DTYPES:
                raise ArtifactError(f"{artifact.path}: signature {spec.name!r} has unsupported dtype {spec.dtype!r}")
        self._segments: list[SegmentExecutor] = []
        self.devices: dict[Any, Any] = {}  # device models shared by this executable's segments (never by two executables)
        available = {s.name for s in self.inputs}
        for seg in self.manifest["segments"]:
            self._check_segment(seg, available)
            available.update(seg["outputs"])
            cls = executor_class(seg["kind"])
            takes_devices = "devices" in inspect.signature(cls.__init__).parameters
            self._segments.append(cls(seg, artifact, devices=self.devices) if takes_devices else cls(seg, artifact))
        self.params: dict[str, Param] = {}
        for ex in self._segments:
            self.params.update(ex.params)
        self._profile: dict[str, Any] = {}
        self._last_run: tuple[list[float], float] | None = None

    @property
    def target(self) -> str:
        return self.manifest["target"]["name"]

    def _check_segment(self, seg: Any, available: set[str]) -> None:
        """`available`: the graph inputs and what the segments before this one produce."""
        if not isinstance(seg, dict) or not {"name", "kind", "inputs", "outputs"} <= set(seg):
            raise ArtifactError(f"{self.artifact.path}: a segment entry in the manifest is malformed")
        missing = [v for v in seg["inputs"] if v not in available]
        if missing:
            raise ArtifactError(f"{self.artifact.path}: segment {seg['name']!r} reads {missing[0]!r}, which nothing produces before it")
        for member in seg.get("members", {}).values():
            if member not in self.manifest["members"]:
                raise ArtifactError(f"{self.artifact.path}: segment {seg['name']!r} names member {member!r}, which is not in the artifact")

    # -- running ----------------------------------------------------------------------------

    def run(self, feeds: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        """Run with inputs by name; returns outputs by name (torch tensors if given torch)."""
        feeds = dict(feeds or {})
        as_torch = any(_is_torch(v) for v in feeds.values())
        env = self._bind_inputs(feeds)
        resolved = self._resolve_params(params)
        start = time.perf_counter()
        walls = []
        for ex in self._segments:
            t0 = time.perf_counter()
            outs = ex.run({n: env[n] for n in ex.spec["inputs"]}, resolved)
            env.update(outs)
            walls.append((time.perf_counter() - t0) * 1e3)
        self._last_run = (walls, (time.perf_counter() - start) * 1e3)
        self._profile = {}
        results = {o.name: env[o.name] for o in self.outputs}
        if as_torch:
            import torch

            results = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in results.items()}
        return results

    def __call__(self, *arrays: Any) -> Any:
        if len(arrays) != len(self.inputs):
            raise TsucError(f"expected {len(self.inputs)} input(s) ({', '.join(i.name for i in self.inputs)}), got {len(arrays)}")
        outs = self.run(dict(zip((i.name for i in self.inputs), arrays)))
        values = [outs[o.name] for o in self.outputs]
        return values[0] if len(values) == 1 else tuple(values)

    @property
    def executors(self) -> list[SegmentExecutor]:
        return list(self._segments)

    def trace_events(self) -> list[dict[str, Any]]:
        """Chrome trace events of the last run from every executor that can give them."""
        events: list[dict[str, Any]] = []
        for pid, ex in enumerate(self._segments):
            fn = getattr(ex, "trace_events", None)
            if callable(fn):
                events.extend(fn())
            else:
                prof = next((p for p in self.profile().get("segments", []) if p["name"] == ex.name), None)
                if prof is not None:
                    events.append({"name": ex.name, "ph": "X", "pid": 0, "tid": pid, "ts": 0, "dur": prof["wall_ms"] * 1e3,
                                   "args": {"kind": ex.spec["kind"]}})
        return events

    def profile(self) -> dict[str, Any]:
        """Per-segment and total figures of the last run (host ms, target cycles, ...).

        Built on demand: a simulator's full cycle-accurate profile costs time that a plain
        `run` should not pay."""
        if self._profile or self._last_run is None:
            return self._profile
        walls, total_ms = self._last_run
        seg_profiles = []
        for ex, wall in zip(self._segments, walls):
            prof = {"name": ex.name, "kind": ex.spec["kind"], "target": ex.spec.get("target", "host"), "wall_ms": wall}
            prof.update(ex.profile())
            seg_profiles.append(prof)
        total: dict[str, Any] = {"wall_ms": total_ms, "segments": len(seg_profiles)}
        for prof in seg_profiles:
            for key, value in prof.items():
                if key.endswith(("_ms", "cycles", "_j", "updates")) and isinstance(value, (int, float)) and key != "wall_ms":
                    total[key] = total.get(key, 0) + value
        self._profile = {"target": self.target, "segments": seg_profiles, "total": total}
        return self._profile

    def _resolve_params(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise TsucError(f"unknown run parameter(s) {', '.join(unknown)} for this artifact (accepted: {known})")
        return {k: p.convert(k, params.get(k, p.default)) for k, p in self.params.items()}

    def _bind_inputs(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        names = {i.name for i in self.inputs}
        unknown = sorted(set(feeds) - names)
        if unknown:
            raise TsucError(f"unknown input(s) {', '.join(unknown)}; the artifact takes {', '.join(sorted(names)) or 'no inputs'}")
        env: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            if spec.name not in feeds:
                raise TsucError(f"input {spec.name!r} is missing")
            arr = _to_numpy(feeds[spec.name])
            if arr.dtype != np.dtype(spec.dtype):
                if np.can_cast(arr.dtype, spec.dtype, casting="same_kind"):
                    arr = arr.astype(spec.dtype)
                else:
                    raise TsucError(f"input {spec.name!r} has dtype {arr.dtype}, expected {spec.dtype}")
            if arr.ndim != len(spec.shape) or any(d is not None and d >= 0 and d != a for d, a in zip(spec.shape, arr.shape)):
                shown = "x".join("?" if d is None or d < 0 else str(d) for d in spec.shape)
                raise TsucError(f"input {spec.name!r} has shape {'x'.join(map(str, arr.shape)) or 'scalar'}, expected {shown}")
            env[spec.name] = arr
        return env


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def _to_numpy(value: Any) -> np.ndarray:
    if _is_torch(value):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        return np.from_dlpack(value.contiguous())  # zero-copy for contiguous CPU tensors
    return np.asarray(value)

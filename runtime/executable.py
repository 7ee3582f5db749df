"""`Executable`: a loaded artifact that runs its segments in order and keeps their profiles."""

from __future__ import annotations


import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.artifact import ArtifactReader
from tsuc.runtime.executors import SegmentExecutor, executor_class
from tsuc.runtime.options import split_namespaced

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


def load(path: str, warm: bool = True) -> Executable:
    """Load and verify an artifact; raises `ArtifactError` with one sentence if it is bad.
    `warm`: also prepare every segment so that the first run costs what a later one does."""
    return Executable(ArtifactReader.open(path), warm=warm)


class Executable:
    """Runs an artifact. `run({name: array}, **params)` or `exe(*arrays)`.

    It owns everything the loaded artifact needs at run time, device models included
    (`devices`: the fabric instances and their SRAM residency, ...), so two loaded artifacts
    never share a device. Run parameters are namespaced by target (`tsu.reads=20`); a bare
    name is accepted when exactly one of the artifact's targets takes it."""

    def __init__(self, artifact: ArtifactReader, warm: bool = True) -> None:
        self.artifact = artifact
        self.manifest = artifact.manifest
        path = artifact.path
        try:
            self.inputs = [TensorSpec.from_json(e) for e in self.manifest["inputs"]]
            self.outputs = [TensorSpec.from_json(e) for e in self.manifest["outputs"]]
            self.target_options: dict[str, dict[str, Any]] = {
                str(t["name"]): dict(t["options"]) for t in self.manifest["targets"]}
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ArtifactError(f"{path}: manifest signatures or targets are malformed") from None
        for spec in self.inputs + self.outputs:
            if spec.dtype not in _DTYPES and not _onnx_typed(spec.dtype):
                raise ArtifactError(f"{path}: signature {spec.name!r} has unsupported dtype {spec.dtype!r}")
        self._segments: list[SegmentExecutor] = []
        self.devices: dict[Any, Any] = {}  # device models shared by this executable's segments (never by two executables)
        available = {s.name for s in self.inputs}
        for seg in self.manifest["segments"]:
            self._check_segment(seg, available)
            available.update(seg["outputs"])
            spec = dict(seg, options=self.target_options.get(seg["target"], {}))
            cls = executor_class(seg["kind"])
            try:
                self._segments.append(cls(spec, artifact, self.devices))
            except TsucError:
                raise
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError, MemoryError) as e:
                raise ArtifactError(f"{path}: segment {seg['name']!r} ({seg['kind']}) is malformed "
                                    f"({type(e).__name__}: {' '.join(str(e).split())[:120]})") from None
        self._param_names = self._declared_params()
        if warm:
            for ex in self._segments:
                ex.warm_up()
        self._profile: dict[str, Any] = {}
        self._last_run: list[tuple[float, float]] | None = None

    @property
    def targets(self) -> list[str]:
        """The artifact's targets, in the order the compile listed them."""
        return list(self.target_options)

    @property
    def target(self) -> str:
        return ",".join(self.targets)

    def _check_segment(self, seg: Any, available: set[str]) -> None:
        """`available`: the graph inputs and what the segments before this one produce."""
        path = self.artifact.path
        if not isinstance(seg, dict) or not {"name", "kind", "target", "inputs", "outputs"} <= set(seg):
            raise ArtifactError(f"{path}: a segment entry in the manifest is malformed")
        if seg["target"] != "host" and seg["target"] not in self.target_options:
            raise ArtifactError(f"{path}: segment {seg['name']!r} names target {seg['target']!r}, "
                                "which the manifest does not list")
        missing = [v for v in seg["inputs"] if v not in available]
        if missing:
            raise ArtifactError(f"{path}: segment {seg['name']!r} reads {missing[0]!r}, which nothing produces before it")
        for member in seg.get("members", {}).values():
            if member not in self.manifest["members"]:
                raise ArtifactError(f"{path}: segment {seg['name']!r} names member {member!r}, which is not in the artifact")

    # -- parameters ---------------------------------------------------------------------------

    def _declared_params(self) -> dict[str, dict[str, Any]]:
        """target -> {parameter name -> declaration} over the target's executors."""
        out: dict[str, dict[str, Any]] = {}
        for ex in self._segments:
            out.setdefault(ex.spec["target"], {}).update(type(ex).params.declared())
        return {t: names for t, names in out.items() if names}

    @property
    def params(self) -> dict[str, Any]:
        """Every run parameter the artifact takes, by qualified name (`tsu.reads`)."""
        return {f"{t}.{k}": info for t, infos in self._param_names.items() for k, info in infos.items()}

    def _resolve_params(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Each executor's checked parameters (all of them checked before anything runs)."""
        routed, _ = split_namespaced(params, {t: set(infos) for t, infos in self._param_names.items()}, "run parameter")
        out = []
        for ex in self._segments:
            mine = routed.get(ex.spec["target"], {})
            declared = type(ex).params.declared()
            out.append(type(ex).params.create({k: v for k, v in mine.items() if k in declared}).values())
        return out

    # -- running ----------------------------------------------------------------------------

    def run(self, feeds: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        """Run with inputs by name; returns outputs by name (torch tensors if given torch).

        Parameters: `reads=20` or, to say whose, `**{"tsu.reads": 20}`."""
        if feeds is not None and not isinstance(feeds, dict):
            raise TsucError(f"run() takes the inputs as a dict {{name: array}}, not a {type(feeds).__name__}")
        feeds = dict(feeds or {})
        as_torch = any(_is_torch(v) for v in feeds.values())
        env = self._bind_inputs(feeds)
        resolved = self._resolve_params(params)
        self._last_run, self._profile = None, {}  # a call that fails leaves no profile (not the last good call's)
        start = time.perf_counter()
        spans = []
        for ex, p in zip(self._segments, resolved):
            t0 = time.perf_counter()
            outs = ex.run({n: env[n] for n in ex.spec["inputs"]}, p)
            env.update(outs)
            spans.append(((t0 - start) * 1e3, (time.perf_counter() - t0) * 1e3))
        self._last_run = spans
        self._profile = {}
        results = {o.name: env[o.name] for o in self.outputs}
        if as_torch:
            import torch

            results = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) and v.dtype.kind in "biufc" else v
                       for k, v in results.items()}
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

    # -- profile and trace -------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        """Per-segment figures of the last run, totals per target, and overall totals.

        Built on demand: a simulator's full cycle-accurate profile costs time that a plain
        `run` should not pay."""
        if self._profile or self._last_run is None:
            return self._profile
        seg_profiles = []
        for ex, (start_ms, wall_ms) in zip(self._segments, self._last_run):
            prof = {"name": ex.name, "kind": ex.spec["kind"], "target": ex.spec["target"], "start_ms": start_ms,
                    "wall_ms": wall_ms}
            prof.update(ex.profile())
            seg_profiles.append(prof)
        by_target: dict[str, dict[str, Any]] = {}
        total: dict[str, Any] = {"segments": len(seg_profiles)}
        single_device = len({p["target"] for p in seg_profiles} - {"host"}) <= 1
        for prof in seg_profiles:
            mine = by_target.setdefault(prof["target"], {"segments": 0})
            mine["segments"] += 1
            for key, value in prof.items():
                if _summable(key, value):
                    mine[key] = mine.get(key, 0) + value
                    # across several devices only time and energy add up (cycles of different clocks do not)
                    if key != "start_ms" and (single_device or key.endswith(("_ms", "_j"))):
                        total[key] = total.get(key, 0) + value
        for mine in by_target.values():
            mine.pop("start_ms", None)
        last_start, last_wall = self._last_run[-1] if self._last_run else (0.0, 0.0)
        total["wall_ms"] = last_start + last_wall
        self._profile = {"targets": self.targets, "segments": seg_profiles, "by_target": by_target, "total": total}
        return self._profile

    def trace_events(self) -> list[dict[str, Any]]:
        """Chrome/Perfetto trace events of the last run.

        Process 1, "host wall clock": every segment at its measured start and duration.
        Process 2, "simulated timeline": the same segments in order, host segments taking
        their wall time and accelerator segments their simulated device time; each
        accelerator target adds a process with its device's own tracks (tiles, DMA, ...)
        placed on that timeline."""
        if self._last_run is None:
            return []
        events: list[dict[str, Any]] = [
            {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "host wall clock (measured)"}},
            {"name": "process_name", "ph": "M", "pid": 2, "args": {"name": "simulated timeline (host wall + device time)"}},
        ]
        device_pid: dict[str, int] = {}
        t_sim = 0.0
        for k, (ex, (start_ms, wall_ms)) in enumerate(zip(self._segments, self._last_run)):
            target = ex.spec["target"]
            args = {"kind": ex.spec["kind"], "target": target}
            events.append({"name": ex.name, "cat": f"segment.{target}", "ph": "X", "pid": 1, "tid": 0,
                           "ts": start_ms * 1e3, "dur": wall_ms * 1e3, "args": args})
            sim = ex.simulated_us() if target != "host" else None
            dur = wall_ms * 1e3 if sim is None else sim
            events.append({"name": ex.name, "cat": f"segment.{target}", "ph": "X", "pid": 2, "tid": 0,
                           "ts": t_sim, "dur": dur, "args": args | {"simulated": sim is not None}})
            if sim is not None:
                if target not in device_pid:
                    device_pid[target] = pid = 10 + len(device_pid)
                    events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": f"{target} device (simulated)"}})
                events.extend(ex.trace_events(device_pid[target], t_sim))
            t_sim += dur
        return events

    def _bind_inputs(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        names = {i.name for i in self.inputs}
        bad = [k for k in feeds if not isinstance(k, str)]
        if bad:
            raise TsucError(f"run() takes the inputs by name (str keys), not by {type(bad[0]).__name__}; "
                            f"the artifact takes {', '.join(sorted(names)) or 'no inputs'}")
        unknown = sorted(set(feeds) - names)
        if unknown:
            raise TsucError(f"unknown input(s) {', '.join(unknown)}; the artifact takes {', '.join(sorted(names)) or 'no inputs'}")
        env: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            if spec.name not in feeds:
                raise TsucError(f"input {spec.name!r} is missing")
            if _onnx_typed(spec.dtype):  # sequences, optionals, maps, strings: onnxruntime checks them
                env[spec.name] = feeds[spec.name]
                continue
            arr = _to_numpy(feeds[spec.name], spec.name)
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


def _summable(key: str, value: Any) -> bool:
    return (key.endswith(("_ms", "cycles", "_j", "updates", "flips", "clocks")) and isinstance(value, (int, float))
            and not isinstance(value, bool))


def _onnx_typed(dtype: str) -> bool:
    """Signature dtypes written as ONNX types (`tensor(string)`, `seq(tensor(float))`): values
    numpy does not name, which only host segments read and write."""
    return dtype.endswith(")") and dtype.split("(", 1)[0] in ("tensor", "seq", "optional", "map", "sparse_tensor")


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def _to_numpy(value: Any, name: str = "") -> np.ndarray:
    if _is_torch(value):
        value = value.detach()
        if value.device.type != "cpu":
            value = value.cpu()
        try:
            return np.from_dlpack(value.contiguous())  # zero-copy for contiguous CPU tensors
        except (RuntimeError, TypeError, BufferError):  # bfloat16, float8, complex32: no numpy dtype
            raise TsucError(f"input {name!r} is a torch {str(value.dtype).replace('torch.', '')} tensor, which numpy cannot "
                            f"hold; convert it first (e.g. tensor.float())") from None
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise TsucError(f"input {name!r} is not an array ({' '.join(str(e).split())[:120]})") from None
    if arr.dtype.kind in "OUSV":
        raise TsucError(f"input {name!r} has dtype {arr.dtype}, not a numeric dtype")
    return arr

"""Segment executors: how the runtime runs each kind of segment in an artifact.

Every segment in a manifest has a `kind`; this registry maps it to the class that runs it,
imported lazily so that loading a cpu-only artifact never imports a simulator. An executor:

    class MyExecutor(SegmentExecutor):
        kind = "my-kind"
        params = {"seed": Param(int, 0, "RNG seed")}      # run-time parameters it accepts
        def __init__(self, spec: dict, artifact: ArtifactReader): ...   # validate + prepare
        def run(self, feeds: dict[str, np.ndarray], params: dict) -> dict[str, np.ndarray]: ...
        def profile(self) -> dict: ...    # of the last run; numbers only, JSON-serialisable

`spec` is the segment's manifest entry: {"name", "kind", "target", "inputs": [value names],
"outputs": [value names], "members": {role: member name}, "config": {...}}. `feeds` holds
the segment's inputs by value name, `run` returns its outputs by value name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tsuc.errors import ArtifactError, TsucError


@dataclass(frozen=True)
class Param:
    """A run-time parameter an executor accepts (`tsuc run --param KEY=VALUE`)."""

    type: Callable[[Any], Any]
    default: Any
    help: str

    def convert(self, key: str, value: Any) -> Any:
        if value is None:
            return None
        if self.type is bool and isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise TsucError(f"parameter {key}={value!r} is not a boolean")
        try:
            return self.type(value)
        except (TypeError, ValueError):
            raise TsucError(f"parameter {key}={value!r} is not a valid {getattr(self.type, '__name__', 'value')}") from None


class SegmentExecutor:
    """Base class of segment executors; see the module docstring for the contract."""

    kind: str = ""
    params: dict[str, Param] = {}

    def __init__(self, spec: dict[str, Any], artifact: Any) -> None:
        self.spec = spec
        self.name: str = spec["name"]

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def profile(self) -> dict[str, Any]:
        return {}


# kind -> "module:Class"; targets add their executors here.
EXECUTORS: dict[str, str] = {
    "onnx": "tsuc.runtime.host:OnnxSegment",
    "tfmbs": "tsuc.runtime.tfmbs.executor:TfmbsSegment",
    "tsu-ising": "tsuc.runtime.tsu.executor:IsingSegment",
    "tsu-sample": "tsuc.runtime.tsu.executor:SampleSegment",
    "hologram": "tsuc.runtime.hologram.executor:HologramSegment",
}


def executor_class(kind: str) -> type[SegmentExecutor]:
    target = EXECUTORS.get(kind)
    if target is None:
        raise ArtifactError(f"segment kind {kind!r} is unknown to this runtime (known: {', '.join(sorted(EXECUTORS))})")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)

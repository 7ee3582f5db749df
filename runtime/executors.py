"""Segment executors: how the runtime runs each kind of segment in an artifact.

Every segment in a manifest has a `kind`; the `tsuc.executors` entry-point group maps kinds
to executor classes (tsuc's own are registered in its `pyproject.toml` like a plugin's), which
are imported on first use, so loading a cpu-only artifact never imports a simulator. An
executor declares everything the runtime may ask of it:

    class MyExecutor(SegmentExecutor):
        kind = "my-kind"
        params = MyParams          # an `Options` dataclass of run parameters (namespace = target)
        def __init__(self, spec, artifact, devices): ...   # validate + prepare
        def run(self, feeds, params): ...   # feeds: inputs by value name; params: a MyParams
        def profile(self): ...              # of the last run; numbers only, JSON-serialisable
        def summary(self, outputs): ...     # lines `tsuc run` prints before the outputs
        def trace_events(self, pid, t0_us): ...   # simulated-device trace events of the last run
        @classmethod
        def describe(cls, spec): ...        # lines `tsuc inspect` prints for the segment

`spec` is the segment's manifest entry: {"name", "kind", "target", "inputs": [value names],
"outputs": [value names], "members": {role: member name}, "config": {...}}, plus `options`,
the resolved options of its target. `devices` is the loading `Executable`'s own dict of
device models (key -> model): executors that keep device state (SRAM, residency) keep it
there, so two loaded artifacts never share a device.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tsuc.errors import ArtifactError
from tsuc.runtime import plugins
from tsuc.runtime.options import Options

GROUP = "tsuc.executors"


@dataclass(frozen=True)
class NoParams(Options):
    """The run parameters of an executor that takes none."""

    noun = "parameter"


class SegmentExecutor:
    """Base class of segment executors; see the module docstring for the contract."""

    kind: ClassVar[str] = ""
    params: ClassVar[type[Options]] = NoParams

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.devices: dict[Any, Any] = devices if devices is not None else {}

    def run(self, feeds: dict[str, np.ndarray], params: Options) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Make the first run cost what a later one does (compile or load kernels, open
        sessions). `load()` calls it after every segment is verified, unless asked not to
        (`tsuc compile` verifies the artifact it wrote without running it)."""

    def profile(self) -> dict[str, Any]:
        """Figures of the last run (numbers, or lists/dicts of numbers); {} if none."""
        return {}

    def summary(self, outputs: dict[str, Any]) -> list[str]:
        """Lines for `tsuc run` to print about the last run (e.g. the best cut found)."""
        return []

    def trace_events(self, pid: int, t0_us: float) -> list[dict[str, Any]]:
        """Chrome trace events of the simulated device during the last run, starting at
        `t0_us` on process `pid` ([] when the executor has no device timeline)."""
        return []

    def simulated_us(self) -> float | None:
        """Simulated device time of the last run in microseconds (None: not a simulator)."""
        return None

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        """Lines for `tsuc inspect` about a segment of this kind."""
        return []


def refresh() -> None:
    """Forget what was found (after installing or registering a plugin in this process)."""
    plugins.refresh()
    executor_class.cache_clear()


def known_kinds() -> list[str]:
    return list(plugins.entry_point_table(GROUP))


@functools.cache
def executor_class(kind: str) -> type[SegmentExecutor]:
    ep = plugins.entry_point_table(GROUP).get(kind)
    if ep is None:
        raise ArtifactError(f"segment kind {kind!r} is unknown to this runtime (known: {', '.join(known_kinds())}; "
                            "a plugin may provide it)")
    try:
        cls = ep.load()
    except ImportError as e:
        raise ArtifactError(f"the executor of segment kind {kind!r} cannot be loaded: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, SegmentExecutor)):
        raise ArtifactError(f"entry point {ep.value!r} of segment kind {kind!r} is not a SegmentExecutor")
    return cls

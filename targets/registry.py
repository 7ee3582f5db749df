"""Targets by name, imported lazily so `tsuc targets` does not load every simulator."""

from __future__ import annotations

import importlib

from tsuc.errors import TsucError
from tsuc.targets.base import Target

TARGETS: dict[str, str] = {
    "cpu": "tsuc.targets.cpu:CpuTarget",
    "tfmbs": "tsuc.targets.tfmbs.target:TfmbsTarget",
    "tsu": "tsuc.targets.tsu.target:TsuTarget",
    "hologram": "tsuc.targets.hologram.target:HologramTarget",
}


def available_targets() -> list[str]:
    names = []
    for name, path in TARGETS.items():
        module = path.partition(":")[0]
        if importlib.util.find_spec(module) is not None:  # type: ignore[attr-defined]
            names.append(name)
    return names


def target_class(name: str) -> type[Target]:
    path = TARGETS.get(name)
    if path is None or name not in available_targets():
        raise TsucError(f"unknown target {name!r} (available: {', '.join(available_targets())})")
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)


def get_target(name: str, options: dict | None = None) -> Target:
    return target_class(name).create(options)

"""Installed targets, found through the `tsuc.targets` entry-point group.

tsuc's own targets are registered in its `pyproject.toml` like any plugin's:

    [project.entry-points."tsuc.targets"]
    tfmbs = "tsuc.targets.tfmbs.target:TfmbsTarget"

so a separate package adds a target by declaring one more entry point (and its executors in
`tsuc.executors`). Classes are imported on first use only, so `tsuc targets` never loads a
simulator; a target whose modules cannot be imported is listed with the extra that provides
them instead of failing the whole registry.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import Any

from tsuc.errors import TsucError
from tsuc.runtime import plugins
from tsuc.runtime.options import parse_spec_list, split_namespaced
from tsuc.targets.base import Target

GROUP = "tsuc.targets"


def _entry_points() -> dict[str, EntryPoint]:
    return plugins.entry_point_table(GROUP)


def refresh() -> None:
    """Forget what was found (after installing or registering a plugin in this process)."""
    plugins.refresh()
    target_class.cache_clear()


@dataclass(frozen=True)
class TargetEntry:
    """An installed target: its class, or why it cannot be used here."""

    name: str
    cls: type[Target] | None
    problem: str | None = None


def installed_targets() -> list[TargetEntry]:
    out = []
    for name in _entry_points():
        try:
            out.append(TargetEntry(name, target_class(name)))
        except TsucError as e:
            out.append(TargetEntry(name, None, str(e)))
    return out


def available_targets() -> list[str]:
    return [e.name for e in installed_targets() if e.cls is not None]


@functools.cache
def target_class(name: str) -> type[Target]:
    ep = _entry_points().get(name)
    if ep is None:
        raise TsucError(f"unknown target {name!r} (installed: {', '.join(_entry_points()) or 'none'})")
    try:
        cls = ep.load()
    except ImportError as e:
        raise TsucError(f"target {name} cannot be loaded: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Target)):
        raise TsucError(f"entry point {ep.value!r} of target {name} is not a tsuc Target class")
    missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
    if missing:
        extra = f"; install it with: pip install 'tsuc[{cls.extra}]'" if cls.extra else ""
        raise TsucError(f"target {name} needs {', '.join(missing)}, which is not installed{extra}")
    return cls


def get_target(name: str, options: dict | None = None) -> Target:
    return target_class(name).create(options)


COMPILE_OPTIONS = {"fallback": ("host", "error")}
"""Options of the compile itself rather than of one target (`--option fallback=error`)."""


def resolve_targets(target: Any, options: dict[str, Any] | None = None) -> tuple[list[Target], dict[str, Any]]:
    """The ordered target list of a compile, and the compile options.

    `target`: a name, a spec list (`"tfmbs{w_planes=2},tsu"`), a list of names, specs or
    `Target` instances. `options`: `{"tfmbs.w_planes": 2, "reads": 20, "fallback": "error"}`;
    a bare key goes to the one listed target that declares it."""
    if isinstance(target, Target):
        items: list[Any] = [target]
    elif isinstance(target, str):
        items = [target]
    elif isinstance(target, (list, tuple)) and target:
        items = list(target)
    else:
        raise TsucError(f"target must be a name, a comma-separated list or a list of names, not {target!r}")
    specs: list[tuple[str, dict[str, Any]] | Target] = []
    for item in items:
        if isinstance(item, Target):
            specs.append(item)
        elif isinstance(item, str):
            specs.extend(parse_spec_list(item))
        else:
            raise TsucError(f"target list entry {item!r} is not a target name")
    names = [s.name if isinstance(s, Target) else s[0] for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TsucError(f"target {dupes[0]} is listed twice")
    if "cpu" in names and len(names) > 1:
        raise TsucError("target cpu runs everything on the host; list it alone")
    declared = {}
    for s in specs:
        cls = type(s) if isinstance(s, Target) else target_class(s[0])
        declared[cls.name if isinstance(s, Target) else s[0]] = set(cls.options_class.declared())
    if options is not None and not isinstance(options, dict):
        raise TsucError(f"options must be a dict {{name: value}}, not a {type(options).__name__}")
    raw = {str(k): v for k, v in (options or {}).items()}
    routed, compile_opts = split_namespaced(raw, declared, "option", set(COMPILE_OPTIONS))
    for key, value in compile_opts.items():
        if value not in COMPILE_OPTIONS[key]:
            raise TsucError(f"option {key}={value!r} must be one of {', '.join(COMPILE_OPTIONS[key])}")
    targets = []
    for s in specs:
        if isinstance(s, Target):
            extra = routed[s.name]
            targets.append(type(s).create({**s.values, **extra}) if extra else s)
        else:
            name, args = s
            clash = sorted(set(args) & set(routed[name]))
            if clash:
                raise TsucError(f"option {name}.{clash[0]} is given both in the target spec and as an option")
            targets.append(target_class(name).create({**args, **routed[name]}))
    return targets, {"fallback": "host", **compile_opts}

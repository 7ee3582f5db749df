"""Backends by name: `backends()`, `get_backend(name)`, `register_backend(name, factory)`.

Factories are called lazily, so listing backends never imports torch or a simulator. The
default backend is the torch p-bit simulator ("pbit-sim").
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from tsuc.errors import TsucError
from tsuc.nn.tsu.protocol import TSUBackend

DEFAULT_BACKEND = "pbit-sim"

# name -> factory(**options) -> TSUBackend, or "module:Class" imported on first use.
_FACTORIES: dict[str, Callable[..., Any] | str] = {
    "pbit-sim": "tsuc.nn.tsu.pbit_sim:PBitSimulatorBackend",
    "pbit-machine": "tsuc.nn.tsu.pbit_machine:PBitMachineBackend",
}


def backends() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_FACTORIES)


def register_backend(name: str, factory: Callable[..., Any] | str, replace: bool = False) -> None:
    """Register `factory` (a callable taking keyword options, or "module:Class") as `name`."""
    if not isinstance(name, str) or not name:
        raise TsucError(f"backend name must be a non-empty string, not {name!r}")
    if name in _FACTORIES and not replace:
        raise TsucError(f"backend {name!r} is already registered; pass replace=True to override it")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TsucError(f"backend {name!r}: factory must be callable or a 'module:Class' string")
    _FACTORIES[name] = factory


def unregister_backend(name: str) -> None:
    """Remove `name` from the registry (the default backend cannot be removed)."""
    if name == DEFAULT_BACKEND:
        raise TsucError(f"the default backend {name!r} cannot be unregistered")
    if _FACTORIES.pop(name, None) is None:
        raise TsucError(f"unknown TSU backend {name!r}; registered backends: {', '.join(backends())}")


def get_backend(name: str | None = None, **options: Any) -> TSUBackend:
    """A new instance of backend `name` (default "pbit-sim") built with `options`."""
    name = DEFAULT_BACKEND if name is None else name
    factory = _FACTORIES.get(name)
    if factory is None:
        raise TsucError(f"unknown TSU backend {name!r}; registered backends: {', '.join(backends())}")
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    try:
        backend = factory(**options)
    except TypeError as e:
        raise TsucError(f"backend {name!r} rejected its options {sorted(options)}: {e}") from None
    if not isinstance(backend, TSUBackend):
        raise TsucError(f"backend {name!r}: its factory returned {type(backend).__name__}, which lacks the TSUBackend methods")
    return backend


def resolve_backend(backend: TSUBackend | str | None) -> TSUBackend | None:
    """A backend instance from a name or instance; None stays None (torch's own sampler)."""
    if backend is None or isinstance(backend, TSUBackend):
        return backend
    if isinstance(backend, str):
        return get_backend(backend)
    raise TsucError(f"backend must be a TSUBackend, a registered name or None, not {type(backend).__name__}")

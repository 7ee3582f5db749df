"""Entry-point groups: how tsuc finds targets (`tsuc.targets`) and executors (`tsuc.executors`).

tsuc registers its own in `pyproject.toml` exactly as a plugin package would, so the same
lookup serves both. Tables are cached per group; `refresh` forgets them after a plugin is
installed or put on the path in a running process.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points


@functools.cache
def entry_point_table(group: str) -> dict[str, EntryPoint]:
    """name -> entry point of `group`, the first by name when two distributions clash."""
    found: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        found.setdefault(ep.name, ep)
    return found


def refresh() -> None:
    entry_point_table.cache_clear()

"""Shape checks of the manifest fields every runtime reads, before anything trusts them.

Checksums prove that members are what the manifest says; they prove nothing about the
manifest itself, which anyone can edit (and recompute the checksums for). Every field the
generic runtime reads is checked here for its JSON kind, so an edited manifest ends in one
sentence, not in a TypeError deep in an executor.
"""

from __future__ import annotations

from typing import Any

from tsuc.errors import ArtifactError

_MAX_RANK = 64


def _fail(path: str, what: str) -> None:
    raise ArtifactError(f"{path}: manifest {what}")


def _signature(path: str, field: str, entries: Any) -> None:
    if not isinstance(entries, list):
        _fail(path, f"field {field!r} is not a list")
    for k, e in enumerate(entries):
        where = f"{field}[{k}]"
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not isinstance(e.get("dtype"), str):
            _fail(path, f"entry {where} needs a string 'name' and 'dtype'")
        shape = e.get("shape")
        if not isinstance(shape, list) or len(shape) > _MAX_RANK or any(
                d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < -1 or d > 2**62) for d in shape):
            _fail(path, f"entry {where} ({e['name']!r}) has an invalid shape")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_manifest_fields(path: str, manifest: dict[str, Any]) -> None:
    _signature(path, "inputs", manifest["inputs"])
    _signature(path, "outputs", manifest["outputs"])
    targets = manifest["targets"]
    if not isinstance(targets, list):
        _fail(path, "field 'targets' is not a list")
    listed = set()
    for k, target in enumerate(targets):
        if not isinstance(target, dict) or not isinstance(target.get("name"), str):
            _fail(path, f"entry targets[{k}] needs a string 'name'")
        if not isinstance(target.get("options"), dict) or not all(
                isinstance(v, (bool, int, float, str)) for v in target["options"].values()):
            _fail(path, f"target {target['name']!r} needs a table of scalar 'options'")
        if target["name"] in listed:
            _fail(path, f"lists target {target['name']!r} twice")
        listed.add(target["name"])
    segments = manifest["segments"]
    if not isinstance(segments, list):
        _fail(path, "field 'segments' is not a list")
    names = set()
    for k, seg in enumerate(segments):
        if not isinstance(seg, dict):
            _fail(path, f"segment {k} is not a table")
        name = seg.get("name")
        if not isinstance(name, str) or not isinstance(seg.get("kind"), str):
            _fail(path, f"segment {k} needs a string 'name' and 'kind'")
        if seg.get("target") != "host" and seg.get("target") not in listed:
            _fail(path, f"segment {name!r} names target {seg.get('target')!r}, which 'targets' does not list")
        if name in names:
            _fail(path, f"names segment {name!r} twice")
        names.add(name)
        if not _strings(seg.get("inputs")) or not _strings(seg.get("outputs")):
            _fail(path, f"segment {name!r} needs lists of value names as 'inputs' and 'outputs'")
        members = seg.get("members", {})
        if not isinstance(members, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in members.items()):
            _fail(path, f"segment {name!r} field 'members' is not a table of member names")
        if not isinstance(seg.get("config", {}), dict):
            _fail(path, f"segment {name!r} field 'config' is not a table")
    for member, entry in manifest["members"].items() if isinstance(manifest["members"], dict) else ():
        if isinstance(entry, dict) and entry.get("kind") == "array":
            shape = entry.get("shape")
            if not isinstance(entry.get("dtype"), str) or not isinstance(shape, list) or len(shape) > _MAX_RANK or any(
                    not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in shape):
                _fail(path, f"entry of array member {member!r} needs a string 'dtype' and a list of non-negative dims")

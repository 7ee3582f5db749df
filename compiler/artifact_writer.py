"""Writing `.tsuc` artifacts deterministically.

Members are stored uncompressed, in insertion order after `manifest.json`, with fixed
timestamps and permissions and their data aligned to 64 bytes (padding goes in the zip extra
field, as Android's zipalign does), so the reader can map arrays without copying. The same
members in the same order give byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from typing import Any

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.artifact import ALIGNMENT, FORMAT, FORMAT_VERSION, MANIFEST, ZIP_EPOCH, check_member_name
from tsuc.version import __version__

_PAD_HEADER_ID = 0xD935  # the zipalign extra-field id


def npy_bytes(arr: np.ndarray) -> bytes:
    """`.npy` bytes of a C-contiguous copy of `arr` (never pickled)."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype.hasobject:
        raise TsucError("cannot store an object array in an artifact")
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


class ArtifactBuilder:
    """Collects members, then writes the artifact with its manifest in one go."""

    def __init__(self) -> None:
        self._members: dict[str, bytes | memoryview] = {}
        self._entries: dict[str, dict[str, Any]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def member_bytes(self, name: str) -> bytes:
        """The bytes of a member added before (a target's post-emission step reads them back)."""
        return bytes(self._members[name])

    def add_bytes(self, name: str, data: bytes, kind: str = "bytes") -> str:
        check_member_name(name)
        if name == MANIFEST or name in self._members:
            raise ValueError(f"artifact member {name!r} added twice")
        self._members[name] = data
        self._entries[name] = {"kind": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        return name

    def add_text(self, name: str, text: str) -> str:
        return self.add_bytes(name, text.encode("utf-8"), kind="text")

    def add_json(self, name: str, obj: Any) -> str:
        return self.add_bytes(name, canonical_json(obj), kind="json")

    def add_array(self, name: str, arr: np.ndarray) -> str:
        data = npy_bytes(arr)
        self.add_bytes(name, data, kind="array")
        self._entries[name].update(dtype=np.asarray(arr).dtype.str, shape=list(np.shape(arr)))
        return name

    def write(self, path: str | os.PathLike[str], manifest: dict[str, Any]) -> bytes:
        """Write the artifact; returns the manifest bytes. `manifest` gets format fields and members."""
        full = {"format": FORMAT, "format_version": FORMAT_VERSION, "compiler_version": __version__}
        full.update(manifest)
        full["members"] = self._entries
        manifest_bytes = canonical_json(full)
        tmp = os.fspath(path) + ".tmp"
        try:
            with open(tmp, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                _write_member(zf, f, MANIFEST, manifest_bytes)
                for name, data in self._members.items():
                    _write_member(zf, f, name, data)
            os.replace(tmp, path)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise TsucError(f"cannot write artifact {os.fspath(path)}: {e.strerror}") from None
        return manifest_bytes


def canonical_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def _write_member(zf: zipfile.ZipFile, f: io.BufferedWriter, name: str, data: bytes | memoryview) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    name_len = len(name.encode("utf-8"))
    base = f.tell() + 30 + name_len + 4  # local header + name + our extra-field header
    pad = (-base) % ALIGNMENT
    info.extra = struct.pack("<HH", _PAD_HEADER_ID, pad) + b"\0" * pad
    zf.writestr(info, bytes(data))

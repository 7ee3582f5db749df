"""Reading `.tsuc` artifacts: verify everything, then hand out zero-copy views.

An artifact is a zip archive whose members are stored uncompressed and 64-byte aligned,
`manifest.json` first. The manifest lists every other member with its sha256, size and, for
arrays, dtype and shape. `ArtifactReader.open` checks, before anything runs: the zip structure,
member names (no `..`, no absolute paths, no duplicates), that the member set equals the
manifest's, the format version, every checksum, and every array header against the manifest.
Arrays are `.npy` parsed without pickle and returned as read-only views on one mmap.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import mmap
import os
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError

FORMAT = "tsuc"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
ALIGNMENT = 64
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# Which compiler versions wrote which format versions, for the error message on mismatch.
FORMAT_WRITTEN_BY = {1: "tsuc 0.1.x", 2: "tsuc 0.2.x"}

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header, 30 bytes


def check_member_name(name: str) -> None:
    """Refuse names that could escape an extraction folder or are ambiguous."""
    if (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or (len(name) > 1 and name[1] == ":")
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise ArtifactError(f"artifact member name {name!r} is not a safe relative path")


@dataclass(frozen=True)
class MemberInfo:
    name: str
    offset: int  # of the data in the file
    size: int


class ArtifactReader:
    """A verified, memory-mapped artifact. Create with `ArtifactReader.open(path)`."""

    def __init__(self, path: str, manifest: dict[str, Any], members: dict[str, MemberInfo],
                 buffer: mmap.mmap | bytes):
        self.path = path
        self.manifest = manifest
        self._members = members
        self._buffer = buffer
        self._arrays: dict[str, np.ndarray] = {}

    # -- opening and verification ---------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ArtifactReader:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ArtifactError(f"{path}: no such artifact file")
        with open(path, "rb") as f:
            try:
                buffer: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # empty file
                buffer = b""
        try:
            infos = cls._read_directory(path, buffer)
            manifest = cls._read_manifest(path, buffer, infos)
            members = cls._verify_members(path, buffer, infos, manifest)
        except ArtifactError:
            raise
        except (zipfile.BadZipFile, struct.error, OSError, ValueError, KeyError, TypeError) as e:
            raise ArtifactError(f"{path}: not a valid tsuc artifact ({e})") from None
        reader = cls(path, manifest, members, buffer)
        reader._verify_arrays()
        return reader

    @staticmethod
    def _read_directory(path: str, buffer: mmap.mmap | bytes) -> list[zipfile.ZipInfo]:
        try:
            with zipfile.ZipFile(io.BytesIO(buffer) if isinstance(buffer, bytes) else buffer) as zf:  # type: ignore[arg-type]
                infos = zf.infolist()
        except zipfile.BadZipFile:
            raise ArtifactError(f"{path}: not a tsuc artifact (not a zip archive, or truncated)") from None
        if not infos or infos[0].filename != MANIFEST:
            raise ArtifactError(f"{path}: not a tsuc artifact ({MANIFEST} is not its first member)")
        seen: set[str] = set()
        for info in infos:
            try:
                check_member_name(info.filename)
            except ArtifactError as e:
                raise ArtifactError(f"{path}: {e}") from None
            if info.filename in seen:
                raise ArtifactError(f"{path}: member {info.filename!r} appears twice")
            seen.add(info.filename)
            if info.compress_type != zipfile.ZIP_STORED:
                raise ArtifactError(f"{path}: member {info.filename!r} is compressed; tsuc stores members uncompressed")
            if info.flag_bits & 0x1:
                raise ArtifactError(f"{path}: member {info.filename!r} is encrypted")
        return infos

    @staticmethod
    def _data_offset(path: str, buffer: mmap.mmap | bytes, info: zipfile.ZipInfo) -> int:
        start = info.header_offset
        header = bytes(buffer[start:start + _LOCAL_HEADER.size])
        if len(header) < _LOCAL_HEADER.size:
            raise ArtifactError(f"{path}: member {info.filename!r} lies past the end of the file (truncated)")
        sig, *_rest, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        if sig != b"PK\x03\x04":
            raise ArtifactError(f"{path}: member {info.filename!r} has a corrupt header")
        offset = start + _LOCAL_HEADER.size + name_len + extra_len
        if offset + info.file_size > len(buffer):
            raise ArtifactError(f"{path}: member {info.filename!r} lies past the end of the file (truncated)")
        return offset

    @classmethod
    def _read_manifest(cls, path: str, buffer: mmap.mmap | bytes, infos: list[zipfile.ZipInfo]) -> dict[str, Any]:
        info = infos[0]
        offset = cls._data_offset(path, buffer, info)
        try:
            manifest = json.loads(bytes(buffer[offset:offset + info.file_size]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ArtifactError(f"{path}: {MANIFEST} is not valid JSON (or nests too deeply)") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArtifactError(f"{path}: not a tsuc artifact (manifest has no 'format': 'tsuc')")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            writer = manifest.get("compiler_version", "an unknown compiler")
            readable_by = FORMAT_WRITTEN_BY.get(version, "a different tsuc release") if isinstance(version, int) else "no tsuc release"
            raise ArtifactError(
                f"{path}: artifact format version {version!r} (written by tsuc {writer}) cannot be read by "
                f"this runtime, which reads format version {FORMAT_VERSION}; use {readable_by} to read it"
            )
        for key in ("members", "inputs", "outputs", "segments", "targets"):
            if key not in manifest:
                raise ArtifactError(f"{path}: manifest lacks the required field {key!r}")
        from tsuc.runtime.manifest_check import check_manifest_fields

        check_manifest_fields(path, manifest)
        return manifest

    @classmethod
    def _verify_members(cls, path: str, buffer: mmap.mmap | bytes, infos: list[zipfile.ZipInfo],
                        manifest: dict[str, Any]) -> dict[str, MemberInfo]:
        declared = manifest["members"]
        if not isinstance(declared, dict):
            raise ArtifactError(f"{path}: manifest field 'members' is not a table")
        present = {info.filename for info in infos[1:]}
        for name, entry in declared.items():
            check_member_name(name)
            if not isinstance(entry, dict):
                raise ArtifactError(f"{path}: manifest entry of member {name!r} is not a table")
        missing = sorted(set(declared) - present)
        extra = sorted(present - set(declared))
        if missing:
            raise ArtifactError(f"{path}: member(s) {', '.join(missing)} listed in the manifest are missing")
        if extra:
            raise ArtifactError(f"{path}: member(s) {', '.join(extra)} are not listed in the manifest")
        members: dict[str, MemberInfo] = {}
        for info in infos[1:]:
            entry = declared[info.filename]
            offset = cls._data_offset(path, buffer, info)
            if entry.get("size") != info.file_size:
                raise ArtifactError(f"{path}: member {info.filename!r} has size {info.file_size}, manifest says {entry.get('size')}")
            digest = hashlib.sha256(memoryview(buffer)[offset:offset + info.file_size]).hexdigest()
            if digest != entry.get("sha256"):
                raise ArtifactError(f"{path}: member {info.filename!r} fails its sha256 check (the artifact was modified or corrupted)")
            members[info.filename] = MemberInfo(info.filename, offset, info.file_size)
        return members

    def _verify_arrays(self) -> None:
        for name, entry in self.manifest["members"].items():
            if entry.get("kind") == "array":
                self.array(name)  # parses the header and checks dtype/shape

    # -- access -----------------------------------------------------------------------------

    def bytes(self, name: str) -> bytes:
        info = self._member(name)
        return bytes(self._buffer[info.offset:info.offset + info.size])

    def text(self, name: str) -> str:
        return self.bytes(name).decode("utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))

    def array(self, name: str) -> np.ndarray:
        """A read-only array view of an `.npy` member, checked against the manifest."""
        if name in self._arrays:
            return self._arrays[name]
        info = self._member(name)
        entry = self.manifest["members"][name]
        head = io.BytesIO(bytes(self._buffer[info.offset:info.offset + min(info.size, 65536)]))
        try:
            major, _minor = np.lib.format.read_magic(head)
            if major == 1:
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
        except Exception as e:  # noqa: BLE001 - numpy's header parser raises ValueError, SyntaxError, tokenize.TokenError, ...
            raise ArtifactError(f"{self.path}: member {name!r} is not a valid .npy array ({' '.join(str(e).split())[:160]})") from None
        if dtype.hasobject or fortran or dtype.kind not in "biufc" or dtype.names is not None or dtype.subdtype is not None:
            raise ArtifactError(f"{self.path}: member {name!r} holds an array of dtype {dtype.str}{' in Fortran order' if fortran else ''}; "
                                "tsuc writes numeric C-ordered arrays only")
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise ArtifactError(f"{self.path}: member {name!r} has the invalid shape {list(shape)}")
        if entry.get("dtype") != dtype.str or list(entry.get("shape", [])) != list(shape):
            raise ArtifactError(
                f"{self.path}: member {name!r} is {dtype.str}{list(shape)}, manifest says {entry.get('dtype')}{entry.get('shape')}"
            )
        count = math.prod(shape)  # Python ints: a shape of 10^30 does not wrap around
        data_offset = info.offset + head.tell()
        if data_offset + count * dtype.itemsize != info.offset + info.size:
            raise ArtifactError(f"{self.path}: member {name!r} has the wrong number of bytes for its shape")
        arr = np.frombuffer(self._buffer, dtype=dtype, count=count, offset=data_offset).reshape(shape)
        self._arrays[name] = arr
        return arr

    def _member(self, name: str) -> MemberInfo:
        try:
            return self._members[name]
        except KeyError:
            raise ArtifactError(f"{self.path}: no member {name!r} in the artifact") from None

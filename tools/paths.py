"""Output paths checked before any work, so a long compile or run never ends in a write error."""

from __future__ import annotations

import os

from tsuc.errors import TsucError


def _nearest_existing(path: str) -> str:
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent


def check_output_file(path: str | None, option: str) -> None:
    """`path` can be written: its folder exists and is writable, and it is not a folder."""
    if not path:
        return
    if os.path.isdir(path):
        raise TsucError(f"{option} {path}: is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is a file" if os.path.exists(folder) else "does not exist"
        raise TsucError(f"{option} {path}: the folder {folder} {what}")
    if not os.access(folder, os.W_OK):
        raise TsucError(f"{option} {path}: the folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise TsucError(f"{option} {path}: the file exists and is not writable")


def check_output_dir(path: str | None, option: str) -> None:
    """`path` is a writable folder, or can be created as one."""
    if not path:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise TsucError(f"{option} {path}: exists and is not a folder")
    existing = path if os.path.isdir(path) else _nearest_existing(path)
    if not os.path.isdir(existing):
        raise TsucError(f"{option} {path}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK):
        raise TsucError(f"{option} {path}: {existing} is not writable")

"""The class pool: one 64-byte aligned numpy buffer, buffers as views into it.

Bytes [0, 1,179,648) are the 96 classes of 12,288 B (class c starts at c * 12,288); the
linear pool follows. A buffer placed at `["class", first, count]`, `["pages", class,
first, pages]` (256-byte pages inside one class) or `["linear", offset, bytes]` is a float32 view of its bytes, reshaped to the buffer's shape, so writing a
kernel's result into it writes the pool and nothing is copied.

(The seed maps a byte value b to class 24*h2 + 8*d + l for its content addressing; tsuc's
pool uses plain class-major addresses, which is what a contiguous numpy view needs.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsuc.errors import ArtifactError
from tsuc.runtime.hologram.machine import (
    ALIGN,
    CLASS_BYTES,
    NUM_CLASSES,
    PAGE_BYTES,
    PAGES_PER_CLASS,
    POOL_BYTES,
)


def aligned_bytes(size: int, align: int = ALIGN) -> np.ndarray:
    """A uint8 array of `size` bytes whose data pointer is a multiple of `align`."""
    raw = np.zeros(size + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + size]


class Pool:
    """The boundary pool (96 classes) plus a linear pool of `linear_bytes`."""

    def __init__(self, linear_bytes: int = 0) -> None:
        self.linear_bytes = int(linear_bytes)
        self.memory = aligned_bytes(POOL_BYTES + self.linear_bytes)

    def byte_range(self, place: Sequence) -> tuple[int, int]:
        kind = place[0]
        if kind == "class":
            first, count = int(place[1]), int(place[2])
            if first < 0 or count < 1 or first + count > NUM_CLASSES:
                raise ArtifactError(f"class run {first}+{count} lies outside the {NUM_CLASSES}-class pool")
            return first * CLASS_BYTES, count * CLASS_BYTES
        if kind == "pages":
            cls, first, pages = int(place[1]), int(place[2]), int(place[3])
            if not 0 <= cls < NUM_CLASSES or first < 0 or pages < 1 or first + pages > PAGES_PER_CLASS:
                raise ArtifactError(f"page run {cls}:{first}+{pages} lies outside the pool")
            return cls * CLASS_BYTES + first * PAGE_BYTES, pages * PAGE_BYTES
        if kind == "linear":
            offset, size = int(place[1]), int(place[2])
            if offset < 0 or offset + size > self.linear_bytes:
                raise ArtifactError(f"linear-pool range {offset}+{size} lies outside the {self.linear_bytes}-byte linear pool")
            return POOL_BYTES + offset, size
        raise ArtifactError(f"unknown buffer place {place!r}")

    def view(self, place: Sequence, shape: Sequence[int]) -> np.ndarray:
        start, capacity = self.byte_range(place)
        n = int(np.prod(shape, dtype=np.int64)) * 4
        if n > capacity:
            raise ArtifactError(f"a {n}-byte buffer does not fit its place {list(place)} ({capacity} B)")
        return self.memory[start:start + n].view(np.float32).reshape(tuple(shape))

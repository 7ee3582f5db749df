"""The values of one tfmbs segment call, by name (`argI`, `L<i>`), in the layout each reader wants.

The segment's contract is ONNX's: convolution values are NCHW. The fast path works on
channels-last rows instead ([B, H, W, C] = [B*H*W, C]: a 1x1 convolution's input rows need
no im2col, and its output rows are what the products give), so a value keeps whichever
form it was made in and the other is made once, on first demand: chains of fast layers
never transpose, and only the values read as NCHW (segment outputs, the other paths) are.
The fast path's epilogue also records each output's largest magnitude, so the next layer's
activation scale costs no pass of its own, and a value's uint8 levels are kept for the call,
so a second layer reading it (a ResNet block's first conv and its downsample) does not
quantise it again.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Values:
    def __init__(self) -> None:
        self._plain: dict[str, np.ndarray] = {}  # as the segment's contract has it (NCHW for 4-D)
        self._cl: dict[str, np.ndarray] = {}  # channels-last [B, H, W, C] of 4-D values
        self._abs_max: dict[str, float] = {}
        self._levels: dict[tuple[Any, ...], tuple[np.ndarray, float, tuple[int, ...]]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._plain or name in self._cl

    def __getitem__(self, name: str) -> np.ndarray:
        v = self._plain.get(name)
        if v is None:
            v = self._plain[name] = np.ascontiguousarray(self._cl[name].transpose(0, 3, 1, 2))
        return v

    def shape(self, name: str) -> tuple[int, ...]:
        """The value's shape as the segment's contract has it (NCHW), without converting it."""
        v = self._plain.get(name)
        if v is not None:
            return v.shape
        b, h, w, c = self._cl[name].shape
        return (b, c, h, w)

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self._plain[name] = value

    def set_channels_last(self, name: str, value: np.ndarray) -> None:
        """A 4-D value made channels-last ([B, H, W, C])."""
        self._cl[name] = value

    def has_channels_last(self, name: str) -> bool:
        return name in self._cl

    def channels_last(self, name: str) -> np.ndarray:
        """The 4-D value `name` as a contiguous [B, H, W, C] array."""
        v = self._cl.get(name)
        if v is None:
            v = self._cl[name] = np.ascontiguousarray(self._plain[name].transpose(0, 2, 3, 1))
        return v

    def set_abs_max(self, name: str, value: float) -> None:
        self._abs_max[name] = value

    def abs_max(self, name: str) -> float | None:
        """max|x| of the value if its maker recorded it (NaN: it holds a NaN)."""
        return self._abs_max.get(name)

    def set_levels(self, key: tuple[Any, ...], levels: tuple[np.ndarray, float, tuple[int, ...]]) -> None:
        """A value's quantised form for this call: key (name, act_trits, layout), (uint8 levels, scale, shape)."""
        self._levels[key] = levels

    def levels(self, key: tuple[Any, ...]) -> tuple[np.ndarray, float, tuple[int, ...]] | None:
        return self._levels.get(key)

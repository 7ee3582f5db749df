"""Input conversion shared by the TSU backends and layers: tensors, keys, validation.

Everything the user passes (numpy arrays, lists, torch tensors, int seeds, generators) goes
through here, so that every bad input fails with one `TsucError` sentence naming the argument.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from tsuc.errors import TsucError


def make_generator(key: Any, default: torch.Generator | None = None) -> torch.Generator | None:
    """A torch.Generator from `key`: an int seeds a fresh one, a Generator is used as is.

    None gives `default` (a backend's own generator, or None for torch's global RNG).
    """
    if key is None:
        return default
    if isinstance(key, torch.Generator):
        return key
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        if key < 0:
            raise TsucError(f"key={key} must be a non-negative int seed or a torch.Generator")
        return torch.Generator().manual_seed(int(key))
    raise TsucError(f"key must be an int seed or a torch.Generator, not {type(key).__name__}")


def as_float_tensor(value: Any, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`value` as a floating torch tensor (float64 numpy stays float64), checked finite."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError):
            raise TsucError(f"{name} must be a numeric array or tensor, not {type(value).__name__}") from None
    if dtype is not None:
        t = t.to(dtype)
    elif not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if not bool(torch.isfinite(t).all()):
        raise TsucError(f"{name} contains NaN or infinite values")
    return t


def check_int(value: Any, name: str, minimum: int) -> int:
    """`value` as an int >= `minimum`, or a TsucError naming `name`."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise TsucError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def check_beta(beta: Any, name: str = "beta") -> float:
    """`beta` as a finite float >= 0."""
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise TsucError(f"{name}={beta!r} must be a non-negative number") from None
    if not np.isfinite(b) or b < 0:
        raise TsucError(f"{name}={beta!r} must be a finite non-negative number")
    return b

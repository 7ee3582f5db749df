"""Random inputs of an artifact's signature (`tsuc run --random-inputs`, `tsuc verify`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def make_random_inputs(specs: Sequence[Any], seed: int) -> dict[str, np.ndarray]:
    """One array per `TensorSpec`: standard normal floats, 0/1 booleans, integers in [0, 10).
    Dynamic dimensions are 1. The same seed gives the same arrays."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        shape = [1 if d is None or d < 0 else d for d in spec.shape]
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[spec.name] = rng.integers(0, 10, shape).astype(dtype)
    return feeds

"""PyTorch modules that run on (simulated) tsuc hardware: `tsuc.nn`.

Names resolve lazily so that `import tsuc.nn` does not import torch until a module is used.
TFMBS layers live in `tsuc.nn.tfmbs`, thermodynamic (TSU) layers in `tsuc.nn.thermo` and
energy-based objectives in `tsuc.nn.objectives`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TFMBSLinear": "tsuc.nn.tfmbs",
    "TFMBSLinearFunction": "tsuc.nn.tfmbs",
    "swap_linear_layers": "tsuc.nn.tfmbs",
    "TSUBinaryLayer": "tsuc.nn.thermo",
    "ThermodynamicAttention": "tsuc.nn.thermo",
    "TSUGaussianNoise": "tsuc.nn.thermo",
    "ContrastiveDivergence": "tsuc.nn.objectives",
    "InfoNCE": "tsuc.nn.objectives",
    "ScoreMatching": "tsuc.nn.objectives",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tsuc.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

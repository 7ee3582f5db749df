"""Optional dependencies: imported where first needed, with the extra that installs them.

`require("minorminer", "tsu", "topology=king")` returns the module, or raises `TsucError`
saying which extra to install, instead of a bare ModuleNotFoundError deep in a pass.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tsuc.errors import TsucError


def require(module: str, extra: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise TsucError(f"{purpose} needs the Python package {module.split('.')[0]!r}, which is not installed; "
                        f"install it with: pip install 'tsuc[{extra}]'") from None

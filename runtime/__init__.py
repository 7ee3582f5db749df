"""The tsuc runtime: load an artifact, run it, report what the hardware would have done.

Needs numpy and onnxruntime only. It never imports xdsl or the compiler packages
(`tsuc.compiler`, `tsuc.dialects`, `tsuc.targets`); a test enforces that.
"""

from __future__ import annotations

from tsuc.runtime.executable import Executable, TensorSpec, load

__all__ = ["Executable", "TensorSpec", "load"]

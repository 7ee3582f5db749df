"""The reference target: accelerates nothing, so the whole model is one host segment."""

from __future__ import annotations

from tsuc.targets.base import Target


class CpuTarget(Target):
    name = "cpu"
    description = "reference: every op runs on the host through onnxruntime"


__all__ = ["CpuTarget"]

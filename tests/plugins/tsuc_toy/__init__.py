"""A toy target plugin, packaged apart from tsuc: it runs Relu on an imaginary "toy" device.

It exists to prove that a separate distribution can add a target and its executor through
the `tsuc.targets` / `tsuc.executors` entry points (see `../toy_plugin-0.1.dist-info`), with
options declared once and read back by the compiler and the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.options import Options, option
from tsuc.targets.base import Target


@dataclass(frozen=True)
class ToyOptions(Options):
    namespace = "toy"

    lanes: int = option(8, "vector lanes of the toy device", minimum=1, maximum=64)


@dataclass(frozen=True)
class ToyParams(Options):
    namespace = "toy"
    noun = "parameter"

    cycles_per_vector: int = option(1, "cycles per vector of `lanes` elements", minimum=1, maximum=100)


class ToyTarget(Target):
    name = "toy"
    description = "toy plugin: Relu on an imaginary vector device"
    options_class = ToyOptions
    accelerates = frozenset({"onnx.Relu"})

    def supports(self, op) -> bool:
        return op.name == "onnx.Relu"

    def emit_segment(self, segment, ctx) -> dict[str, Any]:
        relus = [op for op in segment.body.block.ops if op.name == "onnx.Relu"]
        return {"kind": "toy-relu", "config": {"relus": len(relus), "lanes": segment.options()["lanes"]}}


class ToyReluSegment(SegmentExecutor):
    kind = "toy-relu"
    params = ToyParams

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        self.lanes = int(spec["options"]["lanes"])
        self._elements = 0
        self._cpv = 1

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        (x,) = feeds.values()
        self._elements, self._cpv = x.size, params["cycles_per_vector"]
        return {self.spec["outputs"][0]: np.maximum(x, 0).astype(x.dtype)}

    def profile(self) -> dict[str, Any]:
        return {"cycles": -(-self._elements // self.lanes) * self._cpv}

    def simulated_us(self) -> float | None:
        return float(self.profile()["cycles"])  # a 1 MHz toy

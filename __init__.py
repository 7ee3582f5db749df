"""tsuc: a compiler toolchain for unconventional AI hardware.

`tsuc.compile` turns a model or problem into a `.tsuc` artifact; `tsuc.load` reads one back.
Importing `tsuc` (or `tsuc.runtime`) never imports the compiler: `compile` pulls it in lazily,
so a deployed runtime needs only numpy and onnxruntime.
"""

from __future__ import annotations

from typing import Any

from tsuc.errors import TsucError
from tsuc.version import __version__


def compile(model: Any, target: str = "cpu", output: str | None = None, **kwargs: Any):  # noqa: A001
    """Compile `model` (ONNX path, ModelProto, torch.nn.Module or problem) for `target`.

    Returns the loaded `Executable`; writes the artifact to `output` when given.
    Keyword arguments: `options` (dict of target options), `example_inputs` (torch path),
    `input_shapes` (dict name -> shape for dynamic dimensions), `input_format`.
    """
    from tsuc.compiler.driver import compile_model

    return compile_model(model, target=target, output=output, **kwargs)


def sweep(model: str, target: str, grid: dict[str, Any], output_dir: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Compile and run `model` at every point of `grid` (`{"w_planes": [1, 2], ...}`), as Ray
    tasks; writes `output_dir/sweep.csv` and `pareto.png` and returns the rows. Keywords:
    `params`, `inputs`, `random_inputs`, `seed`, `reference`, `workers`, `address`, `progress`
    (see `tsuc.tools.sweep.sweep`)."""
    from tsuc.tools.sweep import sweep as _sweep

    return _sweep(model, target, grid, output_dir, **kwargs)


def load(path: str, warm: bool = True):
    """Load a `.tsuc` artifact, verifying it fully before anything runs (and, with `warm`,
    preparing it so that the first run costs what a later one does)."""
    from tsuc.runtime import load as _load

    return _load(path, warm=warm)


def devices():
    """What can run artifacts here: onnxruntime, XLA CPU, the simulated matrix unit, and any
    GPU/TPU jax sees (`tsuc.runtime.devices`); nothing that is not there."""
    from tsuc.runtime.devices import devices as _devices

    return _devices()


__all__ = ["TsucError", "__version__", "compile", "devices", "load", "sweep"]

"""torch.nn.Module -> ONNX through `torch.onnx.export(..., dynamo=True)` (torch.export underneath)."""

from __future__ import annotations

import io
import warnings
from typing import Any

from tsuc.dialects.onnx import MIN_OPSET
from tsuc.errors import TsucError


def export_torch(module: Any, example_inputs: Any):
    try:
        import onnx
        import torch
    except ImportError:
        raise TsucError("compiling a torch module needs torch: pip install 'tsuc[torch]'") from None
    if example_inputs is None:
        raise TsucError(f"compiling {type(module).__name__} needs example_inputs=(tensor, ...)")
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    module.eval()
    try:
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, example_inputs, dynamo=True, opset_version=MIN_OPSET,
                                        optimize=True, verbose=False)
        buf = io.BytesIO()
        program.save(buf) if hasattr(program, "save") else None
        model = program.model_proto if hasattr(program, "model_proto") else onnx.load_from_string(buf.getvalue())
    except TsucError:
        raise
    except Exception as e:
        raise TsucError(f"torch.onnx.export failed for {type(module).__name__}: {str(e).splitlines()[0]}") from None
    return model


class _quiet:
    """Silence torch.onnx's progress prints on stdout."""

    def __enter__(self):
        import contextlib
        import sys

        self._redirect = contextlib.redirect_stdout(io.StringIO())
        self._redirect.__enter__()
        self._sys = sys
        return self

    def __exit__(self, *exc):
        return self._redirect.__exit__(*exc)

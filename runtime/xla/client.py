"""The one module that calls jaxlib: XLA's CPU client, HLO text -> executable, buffers in and out.

These are semi-private APIs (`jax._src.lib.xla_client`, `jax.extend`), so jax and jaxlib are
pinned (`tsuc[xla]`: 0.10.2) and nothing else in tsuc touches them. No compile call takes HLO
text directly: the text goes through XLA's own parser, then to StableHLO, then to the
client's compiler. Inputs are handed over by DLPack (no copy for aligned host arrays),
outputs are copied into writable numpy arrays the caller owns.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError

EXTRA = "pip install 'tsuc[xla]'"


@cache
def _jax():
    try:
        import jax
        from jax import dlpack
        from jax._src.lib import xla_client
        from jax.extend import backend, mlir
    except ImportError:
        raise ArtifactError(f"running an xla artifact needs jax and jaxlib 0.10.2, which are not installed ({EXTRA})") from None
    # 64-bit inputs (int64 indices, float64 models) must reach XLA as they are, not narrowed
    jax.config.update("jax_enable_x64", True)
    return jax, xla_client, backend, mlir, dlpack


def available() -> bool:
    try:
        _jax()
    except ArtifactError:
        return False
    return True


@cache
def cpu_device():
    _j, _xc, backend, _mlir, _dl = _jax()
    be = backend.get_backend("cpu")
    return be, be.local_devices()[0]


def parse_hlo(text: str) -> Any:
    """XLA's own HLO parser (raises TsucError with XLA's first message line)."""
    _j, xc, _b, _m, _d = _jax()
    try:
        return xc.hlo.hlo_module_from_text(text)
    except Exception as e:  # XLA raises its own status errors
        raise TsucError(f"XLA rejects the HLO text: {str(e).splitlines()[0]}") from None


def compile_hlo(text: str) -> Any:
    """A loaded executable for the CPU device."""
    _j, xc, _b, mlir, _d = _jax()
    be, dev = cpu_device()
    module = parse_hlo(text)
    try:
        return be.compile_and_load(mlir.hlo_to_stablehlo(module.as_serialized_hlo_module_proto()), xc.DeviceList((dev,)),
                                   xc.CompileOptions())
    except Exception as e:
        raise TsucError(f"XLA cannot compile the HLO module: {str(e).splitlines()[0]}") from None


def to_device(array: np.ndarray) -> Any:
    """A device buffer over `array`: DLPack, no copy when the array is aligned and contiguous."""
    jax, _xc, _b, _m, dlpack = _jax()
    _be, dev = cpu_device()
    arr = np.ascontiguousarray(array)
    try:
        return dlpack.from_dlpack(arr)
    except Exception:  # unaligned or a dtype DLPack does not carry: one copy
        return jax.device_put(arr, dev)


def execute(executable: Any, buffers: list[Any]) -> list[np.ndarray]:
    """Run; outputs are copied out of XLA's buffers (writable arrays the caller owns, and a
    graph's outputs are small next to its inputs and weights)."""
    outs = executable.execute(buffers)
    return [np.array(o) for o in outs]


def optimized_hlo(executable: Any) -> str:
    """The post-optimisation HLO XLA actually runs (fusions, layouts)."""
    return executable.hlo_modules()[0].to_string()


def jax_devices() -> list[dict[str, str]]:
    """Every device jax can see here, by platform (cpu, gpu, tpu)."""
    if not available():
        return []
    jax = _jax()[0]
    out = []
    for platform in ("cpu", "gpu", "tpu"):
        try:
            devs = jax.devices(platform)
        except RuntimeError:
            continue
        out.extend({"platform": platform, "kind": getattr(d, "device_kind", platform), "id": str(d.id)} for d in devs)
    return out

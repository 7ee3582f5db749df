"""The `hologram` target's options, declared once for the compiler and the runtime.

Two groups: what the compiler does (`COMPILE_OPTIONS`: fusion, canonicalisation, the largest
GEMM the engine takes) and the engine's cost model (`machine.MACHINE_OPTIONS`: vector width,
cycles per op class, clock, energy; each with its source or the word "assumption"). Both
become fields of `HologramOptions`, the one option set `tsuc targets`, `--option`, the passes
(through each segment's `#tsuc.target<"hologram", {...}>`), the emitter and the runtime use.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tsuc.errors import TsucError
from tsuc.runtime.hologram.machine import MACHINE_OPTIONS, POOL_BYTES
from tsuc.runtime.options import Options, option

COMPILE_OPTIONS: dict[str, tuple[Any, str]] = {
    "fuse": (True, "fuse chains and DAGs of vector ops into kernels (false: one kernel per op)"),
    "canonicalize": (True, "run the hologram canonicalisation patterns"),
    "gemm_max_bytes": (POOL_BYTES, "largest MatMul/Gemm (both operands and result, bytes) the engine takes "
                                   "(default: the pool)"),
}


def _field(default: Any, help: str) -> Any:
    if isinstance(default, bool):
        return option(default, help)
    return option(default, help, minimum=0, maximum=1 << 40 if isinstance(default, int) else 1e12)


def _validate(self: Options) -> None:
    for key in ("vector_lanes", "clock_mhz", "linear_bytes_per_cycle"):
        if getattr(self, key) <= 0:
            raise TsucError(f"option hologram.{key} must be positive")
    lanes = self.vector_lanes  # type: ignore[attr-defined]
    if lanes & (lanes - 1):
        raise TsucError(f"option hologram.vector_lanes={lanes} must be a power of two (the reduction tree)")


HologramOptions = dataclasses.make_dataclass(
    "HologramOptions",
    [(name, type(default), _field(default, help)) for name, (default, help) in {**COMPILE_OPTIONS, **MACHINE_OPTIONS}.items()],
    bases=(Options,),
    frozen=True,
    namespace={"namespace": "hologram", "validate": _validate, "__module__": __name__,
               "__doc__": "Compile options and cost-model constants of the hologram target."},
)

"""Thermodynamic sampling units from PyTorch: `tsuc.nn.tsu`.

The `TSUBackend` protocol (the MLTSU seed's API: `sample_ising`, `sample_binary_layer`,
`sample_custom`, `get_info`, `reset`) and a registry of backends by name. The default
backend, "pbit-sim", is a torch p-bit simulator; `tsuc.nn` layers and objectives sample
through it or through torch's own RNG with the same p-bit rule (which is what exports to
ONNX random ops and compiles to `tsu.sample` segments).

    from tsuc.nn.tsu import get_backend
    out = get_backend().sample_ising(J, h, beta=1.0, num_steps=100, batch_size=64, key=0)

Importing this package does not import torch; the backends do, when first built.
"""

from __future__ import annotations

from tsuc.nn.tsu.protocol import TSUBackend
from tsuc.nn.tsu.registry import DEFAULT_BACKEND, backends, get_backend, register_backend, unregister_backend

__all__ = ["DEFAULT_BACKEND", "TSUBackend", "backends", "get_backend", "register_backend", "unregister_backend"]

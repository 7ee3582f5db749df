"""`tsuc.devices()`: what can run artifacts on this machine, and nothing that is not there.

The seed's device API (device objects, `is_tpu_available()`) in tsuc's terms. Listed:
- `host`: onnxruntime on the CPU, which runs every host segment (always present);
- `xla:cpu`: XLA's CPU compiler through jaxlib, which runs xla segments (when `tsuc[xla]` is
  installed);
- `xla:systolic`: the simulated R x C matrix unit whose cycles `profile()` reports; a model,
  marked `simulated`, present wherever `xla:cpu` is;
- any GPU or TPU that jax itself sees, as jax names it. tsuc's xla executor compiles for the
  CPU client only, so these are listed with `runs_artifacts=False`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    name: str
    platform: str
    kind: str
    simulated: bool
    runs_artifacts: bool
    description: str


def devices() -> list[Device]:
    import onnxruntime

    from tsuc.runtime.xla import client

    out = [Device("host", "cpu", "onnxruntime", False, True, f"onnxruntime {onnxruntime.__version__} CPU: host segments")]
    if client.available():
        out.append(Device("xla:cpu", "cpu", "XLA CPU", False, True, "XLA's CPU compiler through jaxlib: xla segments"))
        out.append(Device("xla:systolic", "model", "systolic array", True, False,
                          "simulated R x C matrix unit (SCALE-Sim's analytical model): cycles in profile(), not a device"))
        for d in client.jax_devices():
            if d["platform"] != "cpu":
                out.append(Device(f"jax:{d['platform']}:{d['id']}", d["platform"], d["kind"], False, False,
                                  "seen by jax; tsuc's xla executor runs on the CPU client"))
    return out


def is_tpu_available() -> bool:
    """True only where jax sees a TPU."""
    return any(d.platform == "tpu" for d in devices())

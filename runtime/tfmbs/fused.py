"""A fused tfmbs segment: a run of fabric and host segments as one onnxruntime session.

The compiler (`tsuc.targets.tfmbs.fuse`) stored the graph; this module only deserialises it
and hands it to onnxruntime at load time, binding each fabric layer's weight tensor (trits + 1
as uint8, every plane stacked along the output channels) unpacked from the layer's PT-5
stream. A call is one `session.run`; the run keeps its inputs, and `records()` re-runs the
same session on them, fetching every layer's levels, only when a profile is asked for (the
counters are then the closed forms of `profile`, exactly as after a per-layer run).

The original segments travel in the config (`parts`) and are run one by one when a call asks
for what the fused graph does not do: `mode=replay` (the device model) or `products=blas`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.tfmbs import fastpath, fastrun
from tsuc.runtime.tfmbs.layer import Layer, load_segment

FUSED_VERSION = 1
SCALES_OUTPUT = "tfmbs/scales"


def levels_output(part: int, layer: int) -> str:
    return f"p{part}/L{layer}.q"


def weight_name(part: int, layer: int) -> str:
    return f"p{part}/L{layer}.w"


def weight_tensor(layer: Layer) -> np.ndarray:
    """The layer's trits + 1 as uint8 in the graph's layout: [P*N, C, KH, KW] for a
    convolution, [K, P*N] for rows (zero point 1 gives back the trits)."""
    if layer.conv is not None:
        return fastpath.product_weights(layer.trits, (layer.in_shape[1], *layer.conv["kernel_shape"]))
    return np.ascontiguousarray(fastpath.product_weights(layer.trits).T)


class FusedParts:
    """The loaded parts of a fused segment, the session, and the inputs of the last fused call."""

    def __init__(self, spec: dict[str, Any], artifact: Any, where: str) -> None:
        fused = spec["config"]["fused"]
        if fused.get("version") != FUSED_VERSION:
            raise ArtifactError(f"{where} has fused-graph version {fused.get('version')!r}; this runtime reads {FUSED_VERSION}")
        self.parts: list[dict[str, Any]] = [dict(p, options=spec.get("options", {})) for p in fused["parts"]]
        self.fabric: dict[int, list[Layer]] = {}
        for k, part in enumerate(self.parts):
            if part["kind"] == "tfmbs":
                self.fabric[k] = load_segment(part, artifact, f"{where}, part {part['name']!r}").layers
        self.layers: list[Layer] = [layer for k in sorted(self.fabric) for layer in self.fabric[k]]
        self.outputs: list[str] = list(fused["outputs"])
        self.levels_names = [levels_output(k, i) for k in sorted(self.fabric) for i in range(len(self.fabric[k]))]
        self.artifact = artifact
        self.where = where
        inits: dict[str, np.ndarray] = {}
        for w in fused["weights"]:
            inits[str(w["name"])] = weight_tensor(self.fabric[int(w["part"])][int(w["layer"])])
        for name, member in fused.get("host_weights", {}).items():
            inits[str(name)] = artifact.array(member)
        from tsuc.runtime.host import make_session

        alone = len(artifact.manifest["segments"]) == 1
        try:
            self.session, self._keep = make_session(artifact.bytes(spec["members"][fused["model"]]), inits,
                                                    threads=fastpath.cpu_threads(), spin=alone)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises its own exception types)
            raise ArtifactError(f"{where}: its fused graph cannot be loaded by onnxruntime: {str(e).splitlines()[0]}") from None
        self._inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        self._fetch = self.outputs + [SCALES_OUTPUT]
        self._last: dict[str, np.ndarray] | None = None
        self.units: dict[int, Any] = {}  # per-part executors for the per-layer paths, built on first use

    def feeds(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, ty in self._inputs:
            x = np.asarray(feeds[name])
            if ty == "tensor(float)" and x.dtype != np.float32:
                x = x.astype(np.float32)
            out[name] = x
        return out

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call of the fused graph; keeps (a copy of) its inputs for `records`."""
        bound = self.feeds(feeds)
        try:
            values = self.session.run(self._fetch, bound)
        except Exception as e:  # noqa: BLE001 (onnxruntime raises its own exception types)
            raise TsucError(f"tfmbs segment failed in onnxruntime: {str(e).splitlines()[0]}") from None
        scales = values[-1]
        if not np.all(np.isfinite(scales)):
            raise TsucError("an activation tensor sent to the fabric contains NaN or infinite values")
        self._last = {k: np.array(v, copy=True) for k, v in bound.items()}
        return dict(zip(self.outputs, values[:-1]))

    def records(self) -> list[fastrun.CallRecord]:
        """The last fused call's records (levels, scale, rows per layer), by running the
        session again on the kept inputs and fetching the levels (same numbers: the graph is
        deterministic)."""
        if self._last is None:
            return []
        values = self.session.run([SCALES_OUTPUT] + self.levels_names, self._last)
        scales = values[0]
        recs = []
        for layer, s_raw, q in zip(self.layers, scales, values[1:]):
            s = float(s_raw) if s_raw > 0.0 else 1.0
            recs.append(fastrun.CallRecord(q, s, layer.rows_of(q.shape)))
        return recs

    # -- the per-layer paths: the parts one by one --------------------------------------------

    def unit(self, k: int, devices: dict[Any, Any]) -> Any:
        if k not in self.units:
            part = self.parts[k]
            if part["kind"] == "tfmbs":
                from tsuc.runtime.tfmbs.executor import TfmbsSegment

                unit = TfmbsSegment(part, self.artifact, devices)
                unit.layers = self.fabric[k]  # the same loaded layers (trits unpacked once)
            else:
                from tsuc.runtime.host import OnnxSegment

                unit = OnnxSegment(part, self.artifact, devices)
            self.units[k] = unit
        return self.units[k]

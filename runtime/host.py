"""Host segments: ONNX subgraphs run by onnxruntime.

The segment's ONNX graph is stored without weight bytes: each initializer is declared with
`data_location = EXTERNAL`, and the weights themselves are `.npy` members of the artifact,
handed to onnxruntime as memory-mapped arrays (`add_external_initializers`), so loading a
25 M-parameter model copies no weight bytes in Python.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import SegmentExecutor


def make_session(model_bytes: bytes, initializers: dict[str, np.ndarray], threads: int = 0, spin: bool = True):
    """An onnxruntime CPU session over `model_bytes` with external initializers bound.

    `spin=False` stops onnxruntime's worker threads from busy-waiting after each run: when an
    artifact alternates host segments with simulator work, spinning threads would starve it.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 4  # run-time failures are reported as our own sentence, not onnxruntime's log line
    if initializers:
        names = list(initializers)
        values = [ort.OrtValue.ortvalue_from_numpy(initializers[n]) for n in names]
        opts.add_external_initializers(names, values)
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    return sess, values if initializers else []


class OnnxSegment(SegmentExecutor):
    """Runs one host segment; members: `model` (ONNX bytes) and `init/<k>` weight arrays."""

    kind = "onnx"

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        members = spec.get("members", {})
        if "model" not in members:
            raise ArtifactError(f"{artifact.path}: host segment {self.name!r} has no model member")
        initializers = {name: artifact.array(member) for name, member in spec.get("config", {}).get("initializers", {}).items()}
        try:
            alone = len(artifact.manifest["segments"]) == 1
            self._session, self._keepalive = make_session(artifact.bytes(members["model"]), initializers, spin=alone)
        except Exception as e:  # onnxruntime raises its own exception types
            raise ArtifactError(f"{artifact.path}: host segment {self.name!r} cannot be loaded by onnxruntime: {str(e).splitlines()[0]}") from None
        self._input_names = [i.name for i in self._session.get_inputs()]
        self._output_names = list(spec["outputs"])
        self._last_ms = 0.0

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        try:
            values = self._session.run(self._output_names, {n: feeds[n] for n in self._input_names})
        except Exception as e:
            raise TsucError(f"host segment {self.name!r} failed in onnxruntime: {str(e).splitlines()[0]}") from None
        self._last_ms = (time.perf_counter() - start) * 1e3
        return dict(zip(self._output_names, values))

    def profile(self) -> dict[str, Any]:
        return {"host_ms": self._last_ms}

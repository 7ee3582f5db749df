"""The one error type users see.

Every failure caused by the user's input (a model file, an ONNX node, an option, an
artifact) raises `TsucError` with one sentence that names the thing at fault. The CLI prints
it as `error: <sentence>` and exits 1; anything else is an internal error.
"""


class TsucError(Exception):
    """A user-facing error: `str(err)` is one clear sentence."""


class ArtifactError(TsucError):
    """An artifact is malformed, tampered with, or from an incompatible compiler."""


class UnsupportedError(TsucError):
    """The model uses something the chosen target or importer cannot handle."""

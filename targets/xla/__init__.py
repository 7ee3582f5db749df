"""The `xla` target: ONNX graphs lowered to XLA HLO, run by XLA's CPU compiler, with a systolic cycle model."""

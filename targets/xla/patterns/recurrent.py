"""Recurrent ONNX ops (LSTM) -> hlo, unrolled over the static sequence length."""

from __future__ import annotations

PATTERNS: tuple = ()

"""Sampling ops of models on p-bits: what a `tsu-sample` segment computes.

Every output element is one p-bit with its own xorshift32 register, seeded from (run seed,
stream of the op, element index) like the Ising machine's registers (stream = crc32 of
"<segment>/<op index>", so two ops never share randomness); a draw is the register's top
24 bits u after one step.

- bernoulli (ONNX Bernoulli): input p; the p-bit's threshold is T = round(2^24 clip(p, 0, 1))
  and it fires iff u < T, so P(1) = T / 2^24 (p to 24 bits). NaN probabilities are an error.
- noise/uniform (RandomUniform[Like]): loc + scale * u / 2^24, in [low, high).
- noise/normal (RandomNormal[Like]): Box-Muller on two draws,
  loc + scale * sqrt(-2 ln((u1 + 1/2) / 2^24)) cos(2 pi u2 / 2^24).
- attention: input scores z; each of `samples` draws fires iff u < round(2^24 sigmoid(beta z));
  the output is the firing frequency (the p-bit estimate of sigmoid(beta z)).

`run` returns the outputs and the p-bit updates per op (one per draw) for the profile.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.lut import ONE
from tsuc.runtime.tsu.rng import RNG_BITS, seed_registers, xorshift32_

KINDS = ("bernoulli", "noise", "attention")


def stream_id(segment: str, index: int) -> int:
    return zlib.crc32(f"{segment}/{index}".encode()) & 0xFFFFFFFF


def draws(seed: int, stream: int, count: int, steps: int = 1) -> np.ndarray:
    """(steps, count) 24-bit draws of `count` p-bits, stepped `steps` times (int64)."""
    x = seed_registers(seed, [stream], np.arange(count)).reshape(-1)
    scratch = np.empty_like(x)
    out = np.empty((steps, count), dtype=np.int64)
    for k in range(steps):
        xorshift32_(x, scratch)
        out[k] = x >> np.uint32(32 - RNG_BITS)
    return out


@dataclass
class SamplingProgram:
    name: str
    ops: list[dict[str, Any]]
    machine: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    yields: list[str]

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], inputs: list[str], outputs: list[str]) -> SamplingProgram:
        ops = [dict(op) for op in config["ops"]]
        for op in ops:
            if op["kind"] not in KINDS:
                raise ValueError(f"unknown sampling kind {op['kind']!r}")
            np.dtype(op["dtype"])
        yields = list(config["yield"])
        if len(yields) != len(outputs):
            raise ValueError("the segment yields a different number of values than it has outputs")
        return cls(name, ops, dict(config.get("machine", {})), list(inputs), list(outputs), yields)

    def _resolve(self, ref: str, env: dict[str, np.ndarray], feeds: dict[str, np.ndarray]) -> np.ndarray:
        kind, _, idx = ref.partition(":")
        if kind == "arg":
            return np.asarray(feeds[self.inputs[int(idx)]])
        return env[ref]

    def run(self, feeds: dict[str, np.ndarray], seed: int) -> tuple[dict[str, np.ndarray], list[int]]:
        env: dict[str, np.ndarray] = {}
        updates = []
        for k, op in enumerate(self.ops):
            stream = stream_id(self.name, k)
            dtype = np.dtype(op["dtype"])
            src = None if op.get("input") is None else self._resolve(op["input"], env, feeds)
            shape = tuple(src.shape) if src is not None else tuple(int(d) for d in op["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            kind = op["kind"]
            if kind == "bernoulli":
                p = np.asarray(src, dtype=np.float64).reshape(-1)
                if np.isnan(p).any():
                    raise TsucError(f"tsu segment {self.name}: Bernoulli probability is NaN")
                T = np.rint(np.clip(p, 0.0, 1.0) * ONE).astype(np.int64)
                value = (draws(seed, stream, count)[0] < T).astype(dtype)
                updates.append(count)
            elif kind == "noise":
                if op["distribution"] == "uniform":
                    u = draws(seed, stream, count)[0]
                    value = op["loc"] + op["scale"] * (u.astype(np.float64) / ONE)
                    updates.append(count)
                else:
                    u = draws(seed, stream, count, 2).astype(np.float64)
                    r = np.sqrt(-2.0 * np.log((u[0] + 0.5) / ONE))
                    value = op["loc"] + op["scale"] * r * np.cos(2.0 * np.pi * u[1] / ONE)
                    updates.append(2 * count)
                value = value.astype(dtype)
            else:  # attention
                z = np.asarray(src, dtype=np.float64).reshape(-1)
                T = np.rint(ONE / (1.0 + np.exp(np.clip(-float(op["beta"]) * z, -700, 700)))).astype(np.int64)
                n = int(op["samples"])
                fired = (draws(seed, stream, count, n) < T[None, :]).sum(axis=0)
                value = (fired / n).astype(dtype)
                updates.append(n * count)
            env[f"op:{k}"] = value.reshape(shape)
        outs = {name: self._resolve(ref, env, feeds) for name, ref in zip(self.outputs, self.yields)}
        return outs, updates

"""Recurrent ONNX ops (LSTM, GRU) -> hlo, unrolled over the static sequence length.

Shapes are static, so the recurrence unrolls at compile time into plain HLO that XLA fuses
and the cycle model sees as GEMMs: the input projection of every step at once, one
(batch x H)(H x gates*H) GEMM per step for the recurrent term. The default activations only
(sigmoid/tanh); peepholes, clipping, `input_forget` and ragged `sequence_lens` stay on the host.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import Operation, SSAValue

from tsuc.dialects import hlo
from tsuc.targets.xla.builder import HloBuilder, const_value, is_float
from tsuc.targets.xla.patterns.base import OnnxToHlo, attr, inp

DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
GATES = {"LSTM": 4, "GRU": 3}


def _slice(b: HloBuilder, v: SSAValue, axis: int, start: int, stop: int) -> SSAValue:
    shape = hlo.shape(v)
    lo, hi = [0] * len(shape), list(shape)
    lo[axis], hi[axis] = start, stop
    return b.add(hlo.SliceOp(v, lo, hi, [1] * len(shape)))


def _dot_t(b: HloBuilder, x: SSAValue, w: SSAValue) -> SSAValue:
    """x [rows, K] times w [N, K] transposed -> [rows, N]."""
    return b.add(hlo.DotGeneralOp(x, w, [], [], [1], [1]))


class LowerRecurrent(OnnxToHlo):
    op_types = ("LSTM", "GRU")

    def check(self, op: Operation) -> str | None:
        t = op.ONNX_OP_TYPE  # type: ignore[attr-defined]
        if not is_float(hlo.elem(inp(op, 0))):
            return "non-float recurrence"
        acts = attr(op, "activations", None)
        if acts is not None and [a for a in acts] != DEFAULT_ACTIVATIONS[t] * (len(acts) // len(DEFAULT_ACTIVATIONS[t])):
            return f"activations {acts} (only the defaults)"
        if attr(op, "clip", None) is not None:
            return "cell clipping"
        if t == "LSTM" and (attr(op, "input_forget", 0) or inp(op, 7) is not None):
            return "peepholes or input_forget"
        lens = inp(op, 4)
        if lens is not None:
            value = const_value(lens)
            seq = hlo.shape(inp(op, 0))[1 if attr(op, "layout", 0) else 0]
            if value is None or not np.all(value == seq):
                return "ragged or run-time sequence lengths"
        return None

    def build(self, op: Operation, b: HloBuilder) -> list[SSAValue]:
        t = op.ONNX_OP_TYPE  # type: ignore[attr-defined]
        x, w, r, bias = inp(op, 0), inp(op, 1), inp(op, 2), inp(op, 3)
        layout = attr(op, "layout", 0)
        if layout:
            x = b.transpose(x, [1, 0, 2])
        seq, batch, n_in = hlo.shape(x)
        dirs, gh, hidden = hlo.shape(r)
        el = hlo.elem(x)
        direction = attr(op, "direction", "forward")
        h0 = inp(op, 5)
        c0 = inp(op, 6) if t == "LSTM" else None
        if layout:
            h0 = b.transpose(h0, [1, 0, 2]) if h0 is not None else None
            c0 = b.transpose(c0, [1, 0, 2]) if c0 is not None else None
        ys, hs, cs = [], [], []
        for d in range(dirs):
            wd = b.reshape(_slice(b, w, 0, d, d + 1), (gh, n_in))
            rd = b.reshape(_slice(b, r, 0, d, d + 1), (gh, hidden))
            bd = b.reshape(_slice(b, bias, 0, d, d + 1), (2 * gh,)) if bias is not None else None
            xw = _dot_t(b, b.reshape(x, (seq * batch, n_in)), wd)  # every step's input projection at once
            wb = rb = None
            if bd is not None:
                wb, rb = _slice(b, bd, 0, 0, gh), _slice(b, bd, 0, gh, 2 * gh)
                xw = b.binary("add", xw, wb)  # input biases of every gate (GRU: the recurrent ones stay per step)
            xw = b.reshape(xw, (seq, batch, gh))
            h = b.reshape(_slice(b, h0, 0, d, d + 1), (batch, hidden)) if h0 is not None else b.splat(0.0, el, (batch, hidden))
            c = b.reshape(_slice(b, c0, 0, d, d + 1), (batch, hidden)) if c0 is not None else b.splat(0.0, el, (batch, hidden))
            reverse = direction == "reverse" or (direction == "bidirectional" and d == 1)
            steps = range(seq - 1, -1, -1) if reverse else range(seq)
            outs: dict[int, SSAValue] = {}
            for step in steps:
                xt = b.reshape(_slice(b, xw, 0, step, step + 1), (batch, gh))
                if t == "LSTM":
                    g = b.binary("add", xt, _dot_t(b, h, rd))
                    if rb is not None:
                        g = b.binary("add", g, rb)
                    i, o, f, cc = (_slice(b, g, 1, k * hidden, (k + 1) * hidden) for k in range(4))
                    i, o, f = b.unary("logistic", i), b.unary("logistic", o), b.unary("logistic", f)
                    c = b.binary("add", b.binary("multiply", f, c), b.binary("multiply", i, b.unary("tanh", cc)))
                    h = b.binary("multiply", o, b.unary("tanh", c))
                else:
                    h = self._gru_step(op, b, xt, h, rd, rb, hidden)
                outs[step] = h
            ordered = [b.reshape(outs[s], (1, 1, batch, hidden)) for s in range(seq)]
            ys.append(b.add(hlo.ConcatenateOp(ordered, 0)) if len(ordered) > 1 else ordered[0])
            hs.append(b.reshape(h, (1, batch, hidden)))
            cs.append(b.reshape(c, (1, batch, hidden)))
        cat = lambda vs, axis: b.add(hlo.ConcatenateOp(vs, axis)) if len(vs) > 1 else vs[0]
        y, yh, yc = cat(ys, 1), cat(hs, 0), cat(cs, 0)
        if layout:
            y, yh, yc = b.transpose(y, [2, 0, 1, 3]), b.transpose(yh, [1, 0, 2]), b.transpose(yc, [1, 0, 2])
        results = [y, yh, yc][: len(op.results)]
        return [v if op.results[k].uses else None for k, v in enumerate(results)]  # type: ignore[misc]

    @staticmethod
    def _gru_step(op: Operation, b: HloBuilder, xt: SSAValue, h: SSAValue, rd: SSAValue, rb: SSAValue | None, hidden: int) -> SSAValue:
        """z, r, h~ gates (ONNX order), with or without `linear_before_reset`."""
        xz, xr, xh = (_slice(b, xt, 1, k * hidden, (k + 1) * hidden) for k in range(3))
        rz, rr, rh = (_slice(b, rd, 0, k * hidden, (k + 1) * hidden) for k in range(3))
        bz, br, bh = ((_slice(b, rb, 0, k * hidden, (k + 1) * hidden) for k in range(3)) if rb is not None else (None, None, None))
        def plus(v, extra):
            return b.binary("add", v, extra) if extra is not None else v
        z = b.unary("logistic", plus(b.binary("add", xz, _dot_t(b, h, rz)), bz))
        rg = b.unary("logistic", plus(b.binary("add", xr, _dot_t(b, h, rr)), br))
        if attr(op, "linear_before_reset", 0):
            cand = b.binary("add", xh, b.binary("multiply", rg, plus(_dot_t(b, h, rh), bh)))
        else:
            cand = plus(b.binary("add", xh, _dot_t(b, b.binary("multiply", rg, h), rh)), bh)
        cand = b.unary("tanh", cand)
        one = b.splat(1.0, hlo.elem(h), hlo.shape(h))
        return b.binary("add", b.binary("multiply", b.binary("subtract", one, z), cand), b.binary("multiply", z, h))


PATTERNS = (LowerRecurrent,)

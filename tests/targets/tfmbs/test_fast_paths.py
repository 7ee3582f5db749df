"""The fast path's pieces (`runtime/tfmbs/fastpath.py`) and its two product engines.

Every piece is held bit for bit to the plain formula it replaces (`actquant.quantize`,
`host_ops.epilogue`, `host_ops.im2col`, an int64 matmul), including the corners a fast
version gets wrong: rounding ties, the extreme level, signed zeros, several weight planes,
Gemm's alpha, batches, several chunks on several threads. Whole artifacts run with
`tfmbs.products=int8` and `=blas` and in replay must give identical outputs and counters,
and equal the independent reference (`reference.py`).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import tsuc
from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import actquant, fastpath, host_ops, kernels
from tsuc.targets.tfmbs.emit import products_model

from . import reference as ref
from tests.targets.tfmbs.models import one_graph_model as _model, rand as _rand  # noqa: E402

SKIP_KEYS = {"wall_ms", "start_ms", "mode", "closed_form_agrees"}


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 elements and row splits from 16 elements of work, so that small tensors
    are split into many tasks over threads."""
    monkeypatch.setattr(fastpath, "CHUNK", 64)
    monkeypatch.setattr(kernels, "SPLIT_MIN", 16)


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.int32) if a.dtype == np.float32 else a, b.view(np.int32) if b.dtype == np.float32 else b)


# -- levels ------------------------------------------------------------------------------------

@pytest.mark.parametrize("act_trits", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("magnitude", [3.0, 1e-37])  # 1e-37: 1/s overflows float32, only float64 divides
def test_levels_equal_the_quantiser(act_trits, threads, magnitude, small_chunks):
    rng = np.random.default_rng(act_trits)
    x = (rng.standard_normal((2, 3, 7, 9)) * magnitude).astype(np.float32)
    x[0, 0, 0, :3] = [0.0, -0.0, np.float32(1e-42)]  # zeros and a subnormal
    x[1, 2, 3, 4] = -np.abs(x).max() * 1.5  # the extreme is negative
    q, s = fastpath.levels_i8(x, act_trits, threads)
    want, s_want = actquant.quantize(x, act_trits)
    assert q.dtype == np.int8 and s == s_want
    np.testing.assert_array_equal(q, want)
    assert np.abs(q).max() == actquant.levels(act_trits) or act_trits == 1


@pytest.mark.parametrize("threads", [1, 2])
def test_abs_max_is_numpys_with_nan_and_inf_kept(threads, small_chunks):
    """`kernels.abs_max` (a segment input's max|x|, one pass over the bits) == np.abs(x).max(),
    a NaN anywhere gives NaN, an infinity gives inf, -0.0 counts as 0."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(1001).astype(np.float32)
    x[777] = -7.5
    assert kernels.abs_max(x, threads) == np.abs(x).max() == 7.5
    assert kernels.abs_max(np.array([-0.0, 0.0], np.float32), threads) == 0.0
    assert kernels.abs_max(np.empty(0, np.float32), threads) == 0.0
    for bad in (np.nan, -np.inf):
        y = x.copy()
        y[999] = bad
        got = kernels.abs_max(y, threads)
        assert np.isnan(got) if np.isnan(bad) else got == np.inf


def test_levels_round_ties_to_even(small_chunks):
    # s = max|x| / 121 = 2^-4 exactly, and x = (k + 1/2) * 2^-4 divides exactly into a tie
    k = np.arange(-120, 120)
    x = np.concatenate([(k + 0.5) * 0.0625, [121 * 0.0625]]).astype(np.float32)
    q, s = fastpath.levels_i8(x, 5, 2)
    assert s == 0.0625
    np.testing.assert_array_equal(q[:-1], np.rint(k + 0.5).astype(np.int8))  # half to even: 0.5 -> 0, 1.5 -> 2
    np.testing.assert_array_equal(q, actquant.quantize(x, 5)[0])


def test_levels_ties_of_a_scale_that_is_not_a_power_of_two(small_chunks):
    """s = 363 * 2^-6 / 121 = 3 * 2^-6 exactly, and x = (k + 1/2) * s is a float32 whose
    float64 quotient is exactly the tie k + 1/2: all round half to even."""
    k = np.arange(-120, 120)
    x = np.concatenate([(k + 0.5) * (3 / 64), [363 / 64]]).astype(np.float32)
    want, s_want = actquant.quantize(x, 5)
    assert s_want == 3 / 64
    np.testing.assert_array_equal(want[:-1], np.rint(k + 0.5))
    q, s_got = fastpath.levels_i8(x, 5, 2)
    assert s_got == s_want
    np.testing.assert_array_equal(q, want)


@pytest.mark.parametrize("top", [3.3, 0.71, 1234.5])
def test_levels_next_to_half_levels(top, small_chunks):
    """x a few float32 ulps from (k + 1/2) * s, for every k: a float32 quotient would land on
    the wrong side of some of these; they must come out as the float64 division says."""
    s = float(np.float32(top)) / 121
    half = np.concatenate([(np.arange(-121, 121) + 0.5) * s]).astype(np.float32)
    x = [half]
    for steps in (1, 2, 3):
        up, down = half.copy(), half.copy()
        for _ in range(steps):
            up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        x += [up, down]
    x = np.concatenate(x + [np.array([top], np.float32)])
    want, s_want = actquant.quantize(x, 5)
    assert s_want == s
    inv = np.float32(1.0 / s)
    assert np.any(np.rint(x * inv) != want)  # the float32 quotient alone would be wrong here
    q, s_got = fastpath.levels_i8(x, 5, 2)
    np.testing.assert_array_equal(q, want)


@pytest.mark.parametrize("top", [0.5495248, 0.6485743])
def test_levels_where_the_reciprocal_product_rounds_the_other_way(top, small_chunks):
    """float32 x next to (k + 1/2) * s for which rint(x * fl(1/s)) != rint(x / s) in float64:
    the kernel's multiply-first shortcut must hand those blocks to the division."""
    top = np.float32(top)
    s = float(top) / 121
    half = ((np.arange(-121, 121) + 0.5) * s).astype(np.float32)
    x = np.concatenate([half, np.nextafter(half, np.float32(1)), np.nextafter(half, np.float32(-1)), [top]])
    x64 = x.astype(np.float64)
    assert np.any(np.rint(x64 * (1.0 / s)) != np.rint(x64 / s))  # the case exists
    want, s_want = actquant.quantize(x, 5)
    q, s_got = fastpath.levels_i8(x, 5, 2)
    assert s_got == s_want == s
    np.testing.assert_array_equal(q, want)


def test_levels_of_zeros_and_bad_values():
    q, s = fastpath.levels_i8(np.zeros((3, 5), np.float32), 5, 2)
    assert s == 1.0 and not q.any()
    with pytest.raises(TsucError, match="NaN or infinite"):
        fastpath.levels_i8(np.array([1.0, np.nan, 2.0], np.float32), 5, 1)
    with pytest.raises(TsucError, match="8 bits"):
        fastpath.levels_i8(np.ones(4, np.float32), 6, 1)


# -- epilogue ----------------------------------------------------------------------------------

BIASES = {  # the kinds of bias `finish` treats differently
    "random": lambda rng, n: rng.standard_normal(n).astype(np.float32),
    "random_with_negative_zero": lambda rng, n: np.concatenate([[-0.0], rng.standard_normal(n - 1)]).astype(np.float32),
    "zeros": lambda rng, n: np.zeros(n, np.float32),  # one value: added as a scalar
    "negative_zeros": lambda rng, n: np.full(n, -0.0, np.float32),
    "constant": lambda rng, n: np.full(n, 0.3, np.float32),
}


def _epilogue_case(P, seed, bias_kind):
    rng = np.random.default_rng(seed)
    B, N, R = 2, 7, 33
    q = rng.integers(-3000, 3000, (B, P, N, R)).astype(np.int32)
    q[:, :, 0, :5] = 0  # zero products (a -0.0 after a negative scale)
    ws = rng.standard_normal((P, N)).astype(np.float32)
    ws[:, 0] = -np.abs(ws[:, 0])
    return q, ws, BIASES[bias_kind](rng, N)


@pytest.mark.parametrize("P", [1, 2, 3])
@pytest.mark.parametrize("bias_kind", sorted(BIASES))
@pytest.mark.parametrize("alpha", [1.0, -0.75])
def test_finish_equals_the_epilogue(P, bias_kind, alpha, small_chunks):
    q, ws, bias = _epilogue_case(P, 3 + P, bias_kind)
    B, _, N, R = q.shape
    s = 0.0123456789
    zero_sign = fastpath.has_negative_zero(bias)
    assert zero_sign == ("negative_zero" in bias_kind)
    # channel-major: q [B, P, N, R] -> out [B, N, R]
    out = np.empty((B, N, R), np.float32)
    fastpath.finish(q, ws, s, alpha, bias, out, channels_first=True, zero_sign=zero_sign, threads=2)
    for b in range(B):
        want = host_ops.epilogue([q[b, p] for p in range(P)], ws, s, alpha, bias, channels_first=True)
        _same_bits(out[b], want)
    # rows: q [M, P, N] (a transposed view, as the executor passes it) -> out [M, N]
    qr = np.ascontiguousarray(q.transpose(1, 2, 0, 3).reshape(P, N, B * R)).transpose(2, 0, 1)
    out = np.empty((B * R, N), np.float32)
    fastpath.finish(qr, ws, s, alpha, bias, out, channels_first=False, zero_sign=zero_sign, threads=2)
    _same_bits(out, host_ops.epilogue([qr[:, p] for p in range(P)], ws, s, alpha, bias))


def test_skipping_the_zero_step_needs_no_negative_zero_bias():
    """Without a -0.0 bias entry the `+ 0.0` step cannot change a bit; with one it can."""
    q = np.zeros((1, 1, 2, 4), np.int32)
    ws = np.array([[-1.0, 1.0]], np.float32)  # 0 * -1 = -0.0
    for bias, differs in ((np.array([0.0, 0.0], np.float32), False), (np.array([-0.0, 0.0], np.float32), True)):
        want = host_ops.epilogue([q[0, 0]], ws, 0.5, 1.0, bias, channels_first=True)
        skipped = np.empty((1, 2, 4), np.float32)
        fastpath.finish(q, ws, 0.5, 1.0, bias, skipped, channels_first=True, zero_sign=False, threads=1)
        assert (not np.array_equal(skipped[0].view(np.int32), want.view(np.int32))) == differs
        kept = np.empty((1, 2, 4), np.float32)
        fastpath.finish(q, ws, 0.5, 1.0, bias, kept, channels_first=True, zero_sign=True, threads=1)
        _same_bits(kept[0], want)


# -- im2col, products and the fused epilogue ---------------------------------------------------

@pytest.mark.parametrize("conv", [
    {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1]},
    {"kernel_shape": [1, 1], "strides": [2, 2], "pads": [0, 0, 0, 0], "dilations": [1, 1]},
    {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1]},
    {"kernel_shape": [2, 3], "strides": [2, 1], "pads": [0, 1, 2, 0], "dilations": [2, 1]},
])
@pytest.mark.parametrize("batch", [1, 2])
def test_channels_last_patches_equal_the_plain_im2col(conv, batch, small_chunks):
    """`kernels.im2col_cl` on channels-last uint8 levels is `host_ops.im2col` with each patch
    reordered (kh, kw, c) and padding stored as level 0 (128)."""
    x = np.random.default_rng(5).integers(-121, 122, (batch, 5, 8, 9)).astype(np.int8)
    xq = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).view(np.uint8) ^ np.uint8(128)
    (kh, kw), c = conv["kernel_shape"], x.shape[1]
    oh, ow = host_ops.conv_out_hw(8, 9, conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"])
    m = batch * oh * ow
    got = np.empty((m, kh * kw * c), np.uint8)
    kernels.im2col_cl(xq, conv, oh, ow, got, threads=2)
    want = host_ops.im2col(x, conv["kernel_shape"], conv["strides"], conv["pads"], conv["dilations"])
    reordered = fastpath.as_levels(got).reshape(m, kh, kw, c).transpose(0, 3, 1, 2).reshape(m, -1)
    np.testing.assert_array_equal(reordered, want)


@pytest.mark.parametrize("P,N,K,M", [(1, 3, 5, 1), (2, 70, 300, 17), (1, 64, 4608, 9)])
def test_integer_products_are_exact(P, N, K, M):
    rng = np.random.default_rng(K)
    trits = rng.integers(-1, 2, (P, N, K)).astype(np.int8)
    trits[0, 0] = 1  # a row of +1 against the extreme level: the largest possible sum
    x = rng.integers(-121, 122, (M, K)).astype(np.int8)
    x[0] = 121
    a = x.view(np.uint8) ^ np.uint8(fastpath.LEVEL_ZERO)
    got = fastpath.IntProducts(products_model(P * N, K), fastpath.row_weights(trits), threads=2)(a)
    assert got.dtype == np.int32 and got.shape == (M, P * N)
    np.testing.assert_array_equal(got, x.astype(np.int64) @ trits.reshape(P * N, K).T.astype(np.int64))
    assert got[0, 0] == 121 * K


def test_conv_weights_follow_the_channels_last_patches():
    trits = np.random.default_rng(3).integers(-1, 2, (2, 4, 3 * 2 * 5)).astype(np.int8)  # P=2, N=4, C=3, KH=2, KW=5
    b = fastpath.row_weights(trits, (3, 2, 5))
    assert b.shape == (30, 8) and b.flags.c_contiguous
    for k_cl, (i, j, c) in enumerate(np.ndindex(2, 5, 3)):
        np.testing.assert_array_equal(b[k_cl], trits[:, :, c * 10 + i * 5 + j].reshape(8))


def test_int8_exactness_bound():
    assert fastpath.int8_exact(4608) and fastpath.int8_exact(65000)
    assert not fastpath.int8_exact(70000)
    with pytest.raises(TsucError, match="overflow"):
        fastpath.IntProducts(b"", np.zeros((70000, 2), np.int8), 1)


@pytest.mark.parametrize("P,alpha,zero_sign", [(1, 1.0, False), (1, 0.75, False), (3, 1.0, False), (2, 1.5, True),
                                              (1, 1.0, True)])
@pytest.mark.parametrize("residual,relu", [(False, False), (True, False), (False, True), (True, True)])
def test_fused_epilogue_is_the_formula_then_the_post(P, alpha, zero_sign, residual, relu, small_chunks):
    """`kernels.epilogue_rows` == `host_ops.epilogue`, then float32 + residual, then max(., 0),
    bit for bit (signed zeros included), also in place over the products, and it returns
    max|output|."""
    rng = np.random.default_rng(P)
    M, N = 37, 11
    q = rng.integers(-3000, 3000, (M, P * N)).astype(np.int32)
    q[0] = 0
    ws = rng.standard_normal((P, N)).astype(np.float32)
    ws[0, 1] = -ws[0, 1] if ws[0, 1] > 0 else ws[0, 1]
    bias = rng.standard_normal(N).astype(np.float32)
    bias[1] = -0.0 if zero_sign else 0.0  # with q = 0, Q * ws = -0.0: only the + 0.0 step makes it +0.0
    s = 0.0123
    res = rng.standard_normal((M, N)).astype(np.float32) if residual else None
    want = host_ops.epilogue([q[:, p * N:(p + 1) * N] for p in range(P)], ws, s, alpha, bias)
    if residual:
        want = want + res
    if relu:
        want = np.maximum(want, np.float32(0))
    got = np.empty((M, N), np.float32)
    top = kernels.epilogue_rows(q, ws.astype(np.float64), s, alpha, bias.astype(np.float64), fastpath.has_negative_zero(bias),
                                res, relu, got, threads=2)
    _same_bits(got, want)
    assert top == np.abs(want).max()
    if P == 1:  # in place: the output overwrites the products
        q2 = q.copy()
        kernels.epilogue_rows(q2, ws.astype(np.float64), s, alpha, bias.astype(np.float64), fastpath.has_negative_zero(bias),
                              res, relu, q2.view(np.float32), threads=2)
        _same_bits(q2.view(np.float32), want)


def test_values_keep_one_layout_and_convert_on_demand():
    from tsuc.runtime.tfmbs.values import Values

    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    v = Values()
    v.set_channels_last("L0", np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    assert v.shape("L0") == x.shape and "L0" in v and "L1" not in v
    np.testing.assert_array_equal(v["L0"], x)
    v["arg0"] = x
    np.testing.assert_array_equal(v.channels_last("arg0"), x.transpose(0, 2, 3, 1))
    assert v.abs_max("arg0") is None


# -- whole artifacts ---------------------------------------------------------------------------

W_CONV, B_CONV = _rand((9, 4, 3, 3), 1), _rand((9,), 2)
B_CONV[3] = -0.0
W_FC, B_FC = _rand((13, 40), 3), _rand((13,), 4)
CONV = _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[2, 1])],
              {"w": W_CONV, "b": B_CONV}, [2, 4, 7, 6], [2, 9, 4, 6])
GEMM = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.75, beta=1.5)],
              {"w": W_FC, "b": B_FC}, [3, 40], [3, 13])


def _expect(name, x, options):
    o = {"quant": "twn", "w_planes": options.get("w_planes", 1), "act_trits": options.get("act_trits", 5)}
    if name == "conv":
        return ref.conv2d(x, W_CONV, B_CONV, strides=(2, 1), pads=(1, 0, 1, 2), **o)
    return ref.gemm(x, W_FC, B_FC, trans_b=1, alpha=0.75, beta=1.5, **o)


def _strip(exe):
    out = []
    for p in exe.profile()["segments"]:
        if p["kind"] == "tfmbs":
            out.append({k: v for k, v in p.items() if k not in SKIP_KEYS}
                       | {"layers": [{k: v for k, v in layer.items() if k not in SKIP_KEYS} for layer in p["layers"]]})
    return out


@pytest.mark.parametrize("name,x_shape", [("conv", [2, 4, 7, 6]), ("gemm", [3, 40])])
@pytest.mark.parametrize("options", [{}, {"w_planes": 3, "act_trits": 2}, {"act_trits": 1}, {"act_trits": 7, "w_planes": 2}])
def test_both_engines_and_replay_agree_with_the_reference(name, x_shape, options, tmp_path, small_chunks):
    path = str(tmp_path / "m.tsuc")
    exe = tsuc.compile(CONV if name == "conv" else GEMM, target="tfmbs", output=path, options=options)
    assert [s["kind"] for s in exe.manifest["segments"]] == ["tfmbs"]
    x = _rand(x_shape, 7)
    expect = _expect(name, x, options)
    runs = {"blas": {"products": "blas"}, "blas1": {"products": "blas", "threads": 1},
            "replay": {"mode": "replay"}, "auto": {}}
    if options.get("act_trits", 5) <= 5:
        runs["int8"] = {"products": "int8", "threads": 2}
        runs["int8_3"] = {"products": "int8", "threads": 3}
        runs["int8_1"] = {"products": "int8", "threads": 1}
    profiles = {}
    for key, params in runs.items():
        exe = tsuc.load(path)
        _same_bits(exe.run({"x": x}, **params)["y"], expect)
        profiles[key] = _strip(exe)
    for key in runs:
        assert profiles[key] == profiles["replay"], key


def test_product_parameters_are_checked(tmp_path):
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(GEMM, target="tfmbs", output=path, options={"act_trits": 7})
    exe = tsuc.load(path)
    x = _rand([3, 40], 8)
    with pytest.raises(TsucError, match="tfmbs.products=int8 does not apply to tfmbs layer .*act_trits=7"):
        exe.run({"x": x}, products="int8")
    with pytest.raises(TsucError, match="must be one of auto, int8, blas"):
        exe.run({"x": x}, products="gpu")
    with pytest.raises(TsucError, match="tfmbs.threads=-1"):
        exe.run({"x": x}, threads=-1)


def test_fused_relu_of_an_underflowed_negative_is_plus_zero():
    """A tiny negative result rounds to -0.0 in float32; the folded Relu is np.maximum(y, 0),
    which gives +0.0 there (a kernel testing y < 0 would keep -0.0)."""
    q = np.array([[-1, 1]], np.int32)
    ws, bias = np.ones((1, 2)), np.zeros(2)
    got = np.empty((1, 2), np.float32)
    kernels.epilogue_rows(q, ws, 1e-50, 1.0, bias, False, None, False, got)
    assert np.signbit(got[0, 0]) and got[0, 0] == 0  # the case exists
    kernels.epilogue_rows(q, ws, 1e-50, 1.0, bias, False, None, True, got)
    _same_bits(got, np.maximum(np.array([[-0.0, 0.0]], np.float32), np.float32(0)))
    assert not np.signbit(got[0, 0])


@pytest.mark.parametrize("act_trits", [2, 5])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("relu", [False, True])
def test_epilogue_then_levels_is_the_epilogue_then_the_readers_quantiser(act_trits, threads, relu, small_chunks):
    """`kernels.epilogue_levels` (the reader's levels made in the epilogue's kernel call) ==
    `epilogue_rows`, then `actquant.quantize` of its output at the reader's own scale: same
    output bits, same max, the scale max|y| / L, levels q + 128."""
    rng = np.random.default_rng(act_trits)
    M, N = 53, 7
    q = rng.integers(-3000, 3000, (M, N)).astype(np.int32)
    ws, bias = rng.standard_normal((1, N)), rng.standard_normal(N)
    res = rng.standard_normal((M, N)).astype(np.float32)
    want = np.empty((M, N), np.float32)
    top = kernels.epilogue_rows(q, ws, 0.01, 1.0, bias, False, res, relu, want)
    got, u8 = np.empty((M, N), np.float32), np.zeros(M * N, np.uint8)
    top2, s = kernels.epilogue_levels(q, ws, 0.01, 1.0, bias, False, res, relu, got, act_trits, u8, threads)
    _same_bits(got, want)
    assert top2 == top
    levels, s_ref = actquant.quantize(want, act_trits)
    assert s == s_ref
    np.testing.assert_array_equal(u8.astype(np.int16) - 128, levels.reshape(-1))


@pytest.mark.parametrize("fill", [0.0, np.nan, np.inf])
def test_epilogue_then_levels_leaves_zero_and_bad_outputs_to_the_reader(fill):
    """An output whose max|y| is 0, infinite or NaN gets no levels from the epilogue (the reader's
    own quantiser decides those: scale 1.0, or its error)."""
    q = np.zeros((4, 3), np.int32)
    bias = np.full(3, fill)
    y, u8 = np.empty((4, 3), np.float32), np.full(12, 7, np.uint8)
    top, s = kernels.epilogue_levels(q, np.ones((1, 3)), 1.0, 1.0, bias, False, None, False, y, 3, u8)
    assert s is None and (u8 == 7).all()
    assert top == 0.0 if fill == 0.0 else not np.isfinite(top)


@pytest.mark.parametrize("planes", [1, 2])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch,r", [(1, 130), (3, 70), (2, 1), (3, 300)])
def test_epilogue_written_nchw_is_the_rows_transposed(batch, r, threads, planes, small_chunks):
    """An output read as NCHW is written so (blocks of whole rows, about
    `kernels.BLOCK_ELEMENTS` elements, through a scratch, across batch boundaries and thread
    splits): the rows epilogue, transposed."""
    rng = np.random.default_rng(r)
    n = 9
    q = rng.integers(-500, 500, (batch * r, planes * n)).astype(np.int32)
    ws, bias = rng.standard_normal((planes, n)), rng.standard_normal(n)
    res = rng.standard_normal((batch * r, n)).astype(np.float32)
    rows = np.empty((batch * r, n), np.float32)
    want = kernels.epilogue_rows(q, ws, 0.01, 1.0, bias, False, res, True, rows)
    nchw = np.empty((batch, n, r), np.float32)
    got = kernels.epilogue_rows(q, ws, 0.01, 1.0, bias, False, res, True, nchw, threads)
    _same_bits(nchw, np.ascontiguousarray(rows.reshape(batch, r, n).transpose(0, 2, 1)))
    assert got == want


def test_replay_after_fast_calls_loads_the_device_and_agrees(tmp_path):
    """A replay on an artifact that has only run fast so far must still find its resident
    weights in SRAM (they are loaded then, counted in the first call as the closed form has
    it): same outputs as the reference, counters equal to the fast path's."""
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(CONV, target="tfmbs", output=path)
    x = _rand([2, 4, 7, 6], 7)
    exe = tsuc.load(path)
    exe.run({"x": x})
    exe.run({"x": x})
    fast = _strip(exe)
    _same_bits(exe.run({"x": x}, mode="replay")["y"], _expect("conv", x, {}))
    assert _strip(exe) == fast
    assert all(s["closed_form_agrees"] for s in exe.profile()["segments"] if s["kind"] == "tfmbs")


TWO_CONVS = _model([helper.make_node("Conv", ["x", "w0"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                    helper.make_node("Conv", ["c0", "w1"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                   {"w0": _rand((16, 16, 3, 3), 1, 0.3), "w1": _rand((5, 16, 3, 3), 2, 0.3)}, ["b", 16, 6, 6], ["b", 5, 6, 6])


@pytest.mark.parametrize("params", [{}, {"products": "blas"}, {"mode": "replay"}])
def test_a_failed_call_leaves_no_stale_profile(params, tmp_path):
    """The second layer's input overflows to inf in the second call (a TsucError): the first
    layer has already overwritten its work arrays, which the first call's lazy profile would
    read. Every engine then reports no profile rather than a mix of the two calls."""
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(TWO_CONVS, target="tfmbs", output=path)
    exe = tsuc.load(path)
    exe.run({"x": np.maximum(_rand((2, 16, 6, 6), 1), 0)}, **params)
    assert _strip(exe)
    exe = tsuc.load(path)
    exe.run({"x": np.maximum(_rand((2, 16, 6, 6), 1), 0)}, **params)
    with np.errstate(over="ignore"), pytest.raises(TsucError, match="NaN or infinite"):
        exe.run({"x": _rand((2, 16, 6, 6), 2) * np.float32(1e38)}, **params)
    assert exe.profile() == {}
    assert all(ex.profile() == {} for ex in exe.executors)


DYN_GEMM = _model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                   helper.make_node("MatMul", ["r", "w2"], ["y"])],
                  {"w": _rand((160, 13), 3), "w2": _rand((13, 6), 4)}, ["b", 3, 160], ["b", 3, 6])


@pytest.mark.parametrize("name", ["conv", "matmul"])
@pytest.mark.parametrize("options", [{}, {"w_planes": 2, "act_trits": 2}, {"acc_bits": 8, "overflow": "wrap"}])
def test_an_empty_batch_runs_on_every_engine(name, options, tmp_path):
    """A dynamic batch of 0: an empty output of the right shape on every engine (the conv
    reshapes once inferred -1 from an empty array), the same counters, and the next call
    with a real batch still right. K = 144 and 160 overflow 8-bit accumulators: the wrapped
    path too."""
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(TWO_CONVS if name == "conv" else DYN_GEMM, target="tfmbs", output=path, options=options)
    shape = [16, 6, 6] if name == "conv" else [3, 160]
    want = (0, 5, 6, 6) if name == "conv" else (0, 3, 6)
    runs = {"auto": {}, "int8": {"threads": 2}, "blas": {"products": "blas"}, "replay": {"mode": "replay"}}
    profiles, outs = {}, {}
    for key, params in runs.items():
        exe = tsuc.load(path)
        if "acc_bits" in options:
            assert exe.executors[0].layers[0].plan.may_overflow(exe.executors[0].config)
        y = exe.run({"x": np.zeros([0] + shape, np.float32)}, **params)["y"]
        assert y.shape == want and y.dtype == np.float32, key
        profiles[key] = _strip(exe)
        outs[key] = exe.run({"x": _rand([2] + shape, 5)}, **params)["y"]
    for key in runs:
        assert profiles[key] == profiles["replay"], key
        _same_bits(outs[key], outs["replay"])


def test_concurrent_calls_of_one_loaded_artifact(tmp_path):
    """Threads sharing one loaded artifact: the fast path reuses per-layer work arrays and
    onnxruntime bindings from call to call, so calls must not interleave (they are
    serialised per segment): every thread gets its own input's output."""
    import threading

    path = str(tmp_path / "m.tsuc")
    tsuc.compile(TWO_CONVS, target="tfmbs", output=path)
    xs = [np.maximum(_rand((2, 16, 6, 6), s), 0) for s in range(4)]
    want = [tsuc.load(path).run({"x": x}, threads=1)["y"] for x in xs]
    exe = tsuc.load(path)
    wrong = []

    def work(i):
        for _ in range(60):
            if not np.array_equal(exe.run({"x": xs[i]}, threads=1)["y"], want[i]):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


@pytest.mark.parametrize("act_trits", [1, 5])
def test_a_segment_fed_float64_quantises_its_float32_values(act_trits, tmp_path):
    """A tfmbs segment called directly with a float64 array (the artifact casts its inputs,
    a segment's caller may not): every engine quantises the float32 values (with one trit,
    the fast path's mean of a convolution input was taken in float64)."""
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(TWO_CONVS, target="tfmbs", output=path, options={"act_trits": act_trits})
    x = _rand((2, 16, 6, 6), 3).astype(np.float64) * (1 + 1e-9)
    outs = {}
    for key, params in {"fast": {}, "blas": {"products": "blas"}, "replay": {"mode": "replay"}}.items():
        outs[key] = tsuc.load(path).executors[0].run({"x": x}, params)["y"]
    want = tsuc.load(path).run({"x": x.astype(np.float32)})["y"]
    for key in outs:
        _same_bits(outs[key], want)


@pytest.mark.parametrize("name", ["conv", "matmul"])
@pytest.mark.parametrize("options", [{}, {"w_planes": 2}])
def test_returned_outputs_are_not_overwritten_by_the_next_call(name, options, tmp_path):
    """The fast path reuses per-layer work arrays from call to call (`Layer.scratch`), and a
    one-plane layer's output overwrites its products in place: what a call returned must
    stay as it was through later calls of the same shape, and of another batch and back."""
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(TWO_CONVS if name == "conv" else DYN_GEMM, target="tfmbs", output=path, options=options)
    shape = [16, 6, 6] if name == "conv" else [3, 160]
    exe = tsuc.load(path)
    first = exe.run({"x": _rand([2] + shape, 1)})["y"]
    kept = first.copy()
    for seed, batch in ((2, 2), (3, 3), (4, 2)):
        exe.run({"x": _rand([batch] + shape, seed)})
    _same_bits(first, kept)
    _same_bits(kept, tsuc.load(path).run({"x": _rand([2] + shape, 1)}, products="blas")["y"])


def _residual_input_model():
    """x, r -> y0 = relu(conv(x) + r) -> y = conv(y0) + r: r reaches the fabric only through
    the folded residual Adds, so a NaN in it shows first in y0's recorded max|y0|."""
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c0", "r"], ["a0"]), helper.make_node("Relu", ["a0"], ["y0"]),
             helper.make_node("Conv", ["y0", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c1", "r"], ["y"])]
    shape = ["b", 4, 5, 5]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("x", "r")],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("y0", "y")],
                              [numpy_helper.from_array(_rand((4, 4, 3, 3), s, 0.3), f"w{s}") for s in (0, 1)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("bad,refused", [(np.nan, True), (-np.nan, True), (np.inf, True), (-np.inf, False), (None, False)])
def test_a_bad_value_arriving_through_a_residual_is_refused_by_every_engine(bad, refused, tmp_path):
    """A NaN or infinity in an input used only as a residual: the second layer's scale (from
    the first layer's recorded max|y0| on the fast path) refuses it with the one sentence,
    on every engine; -inf is made 0 by the Relu (and stays in y, which no layer reads):
    every engine gives the same bits as the replay."""
    path = str(tmp_path / "m.tsuc")
    exe = tsuc.compile(_residual_input_model(), target="tfmbs", output=path)
    assert [len(s["config"]["layers"]) for s in exe.manifest["segments"]] == [2]
    x, r = _rand((2, 4, 5, 5), 1), _rand((2, 4, 5, 5), 2)
    if bad is not None:
        r[1, 1, 1, 1] = bad
    outs = {}
    for key, params in {"fast": {}, "int8_2": {"threads": 2}, "blas": {"products": "blas"}, "replay": {"mode": "replay"}}.items():
        if refused:
            with pytest.raises(TsucError, match="contains NaN or infinite values"):
                tsuc.load(path).run({"x": x, "r": r}, **params)
        else:
            outs[key] = tsuc.load(path).run({"x": x, "r": r}, **params)
    for key in outs:
        for name in ("y0", "y"):
            _same_bits(outs[key][name], outs["replay"][name])


def _chain_model():
    """One fabric segment of five layers with a dynamic batch: a residual that is the segment
    input (NCHW), a dilated conv with asymmetric pads, a residual from a channels-last layer
    output, an output (y1) that a later layer also reads, a 1x1 stride-2 conv, and a MatMul
    on that conv's 4-D output."""
    b = "b"
    inits = {"w0": _rand((4, 4, 3, 3), 1, 0.3), "w1": _rand((6, 4, 3, 3), 2, 0.3), "w2": _rand((6, 6, 3, 3), 3, 0.3),
             "w3": _rand((5, 6, 1, 1), 4, 0.3), "wm": _rand((5, 7), 5, 0.3), "b1": _rand((6,), 6, 0.1),
             "w4": _rand((3, 6, 1, 1), 7, 0.3)}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c0", "x"], ["a0"]),
             helper.make_node("Conv", ["a0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 0, 2, 1], dilations=[2, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["a2"]), helper.make_node("Relu", ["a2"], ["y1"]),
             helper.make_node("Conv", ["y1", "w3"], ["y2"], kernel_shape=[1, 1], strides=[2, 2]),
             helper.make_node("MatMul", ["y2", "wm"], ["y3"]),
             helper.make_node("Conv", ["y1", "w4"], ["y4"], kernel_shape=[1, 1])]
    outs = [("y1", [b, 6, 8, 9]), ("y2", [b, 5, 4, 5]), ("y3", [b, 5, 4, 7]), ("y4", [b, 3, 8, 9])]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, 4, 9, 10])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outs],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("options", [{}, {"w_planes": 2, "act_trits": 2}, {"act_trits": 1}])
def test_a_chain_of_layers_with_changing_batches_agrees_on_every_engine(options, tmp_path, small_chunks):
    """Channels-last values between layers, NCHW-written outputs split over threads across
    batch boundaries, and per-layer work arrays and onnxruntime bindings reused as the batch
    goes 2, 3, 2: outputs and counters equal the BLAS path's on every call (and the
    replay's on the first: it is slow)."""
    path = str(tmp_path / "m.tsuc")
    exe = tsuc.compile(_chain_model(), target="tfmbs", output=path, options=options)
    assert [len(s["config"]["layers"]) for s in exe.manifest["segments"]] == [6]
    assert exe.executors[0]._nchw_outputs == {4, 5}  # L4 is the MatMul (rows either way)
    runs = {"int8_2": {"threads": 2}, "int8_1": {"threads": 1}, "int8_3": {"threads": 3}, "blas": {"products": "blas"},
            "replay": {"mode": "replay"}}
    exes = {key: tsuc.load(path) for key in runs}
    for seed, batch in enumerate((2, 3, 2)):
        x = _rand((batch, 4, 9, 10), 10 + seed)
        outs = {key: exes[key].run({"x": x}, **params) for key, params in runs.items() if key != "replay" or seed == 0}
        for key in outs:
            for name in ("y1", "y2", "y3", "y4"):
                _same_bits(outs[key][name], outs["blas"][name])
            assert _strip(exes[key]) == _strip(exes["blas"]), key


CONV_THEN_MATMUL = _model([helper.make_node("Conv", ["x", "w0"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                           helper.make_node("MatMul", ["c", "w1"], ["y"])],
                          {"w0": _rand((6, 4, 3, 3), 3, 0.3), "w1": _rand((5, 7), 4, 0.5)}, ["b", 4, 6, 5], ["b", 6, 6, 7])


def test_a_rows_reader_of_a_convolution_quantises_the_nchw_value_itself(tmp_path):
    """A MatMul reading a convolution's 4-D output in one segment reads it as NCHW rows (its
    last axis is W): the convolution's epilogue must not hand it levels in its own
    channels-last order. Fast path == reference bit for bit, on every engine."""
    path = str(tmp_path / "m.tsuc")
    exe = tsuc.compile(CONV_THEN_MATMUL, target="tfmbs", output=path)
    assert [len(s["config"]["layers"]) for s in exe.manifest["segments"]] == [2]
    x = _rand((2, 4, 6, 5), 9)
    c = ref.conv2d(x, _rand((6, 4, 3, 3), 3, 0.3), None, pads=(1, 1, 1, 1), quant="twn", w_planes=1, act_trits=5)
    want = ref.matmul(c, _rand((5, 7), 4, 0.5), quant="twn", w_planes=1, act_trits=5)
    for params in ({}, {"threads": 2}, {"products": "blas"}, {"mode": "replay"}):
        _same_bits(tsuc.load(path).run({"x": x}, **params)["y"], want)

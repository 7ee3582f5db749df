"""Ternary weight quantisation (`tsuc.targets.tfmbs.quantize`): hand cases, residual planes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.targets.tfmbs.quantize import dequantize_weights, quantize_weights


def test_twn_hand_case():
    # Row 0: mean|W| = (1 + 0.2 + 0.5 + 2.3)/4 = 1.0, delta = 0.7: keep 1, -2.3 -> scale (1 + 2.3)/2 = 1.65.
    # Row 1: all |W| = 0.5 equal: delta = 0.35, all kept, scale 0.5.
    # Row 2: zeros: nothing kept, scale 0.
    w = np.array([[1.0, 0.2, -0.5, -2.3],
                  [0.5, -0.5, 0.5, -0.5],
                  [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    t, s = quantize_weights(w)
    assert t.dtype == np.int8 and s.dtype == np.float32
    assert t.shape == (1, 3, 4) and s.shape == (1, 3)
    np.testing.assert_array_equal(t[0], [[1, 0, 0, -1], [1, -1, 1, -1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(s[0], np.float32([1.65, 0.5, 0.0]))


def test_twn_threshold_is_strict():
    # mean|W| = 10, delta = 0.7 * 10 == 7.0 exactly in float64: the entry at 7 is dropped (|w| > delta).
    w = np.array([[7.0, 13.0, -10.0]])
    t, s = quantize_weights(w)
    np.testing.assert_array_equal(t[0], [[0, 1, -1]])
    assert s[0, 0] == np.float32(11.5)


def test_sign_hand_case():
    w = np.array([[1.0, 0.0, -3.0, 0.5], [-2.0, -2.0, 2.0, 0.0]], dtype=np.float32)
    t, s = quantize_weights(w, method="sign")
    np.testing.assert_array_equal(t[0], [[1, 0, -1, 1], [-1, -1, 1, 0]])
    np.testing.assert_array_equal(s[0], np.float32([4.5 / 4, 6.0 / 4]))


def test_two_planes_hand_case():
    # Row [3, 1]: plane 1 TWN: mean 2, delta 1.4, keep 3 only -> t=[1,0], s=3; residual [0, 1].
    # Plane 2: mean 0.5, delta 0.35, keep the 1 -> t=[0,1], s=1. Exact reconstruction.
    w = np.array([[3.0, 1.0]], dtype=np.float32)
    t, s = quantize_weights(w, planes=2)
    np.testing.assert_array_equal(t[:, 0], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(s[:, 0], np.float32([3.0, 1.0]))
    np.testing.assert_array_equal(dequantize_weights(t, s), w)


def test_planes_follow_the_residual_definition():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((7, 33)).astype(np.float32)
    t, s = quantize_weights(w, planes=3)
    for p in range(3):
        # Plane p alone equals quantising the residual the stored planes before it leave.
        resid = w.astype(np.float64) - np.einsum("qn,qnk->nk", s[:p].astype(np.float64), t[:p].astype(np.float64))
        tp, sp = quantize_weights(resid, planes=1)
        np.testing.assert_array_equal(t[p], tp[0])
        np.testing.assert_array_equal(s[p], sp[0])


@pytest.mark.parametrize("method", ["twn", "sign"])
def test_error_falls_with_planes(method):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((64, 200)).astype(np.float32) * rng.uniform(0.1, 2.0, (64, 1)).astype(np.float32)
    errors = []
    for planes in (1, 2, 3, 4):
        t, s = quantize_weights(w, method=method, planes=planes)
        assert t.shape == (planes, 64, 200) and s.shape == (planes, 64)
        assert set(np.unique(t)) <= {-1, 0, 1}
        errors.append(float(np.linalg.norm(w - dequantize_weights(t, s)) / np.linalg.norm(w)))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    if method == "twn":
        assert errors[0] < 0.6 and errors[1] < 0.35 and errors[2] < 0.2, errors


def test_twn_sparsity_and_deterministic():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((32, 512)).astype(np.float32)
    t1, s1 = quantize_weights(w)
    t2, s2 = quantize_weights(w.copy())
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(s1, s2)
    # For Gaussian weights, 0.7*mean|w| = 0.7*sqrt(2/pi) ~ 0.559 sigma: about 42 % of entries are zero.
    zero = float((t1 == 0).mean())
    assert 0.38 < zero < 0.46, zero


def test_sign_has_no_zeros_except_exact_zeros():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 40))
    w[0, :3] = 0.0
    t, _ = quantize_weights(w, method="sign")
    assert int((t == 0).sum()) == 3


def test_accepts_other_dtypes():
    t, s = quantize_weights(np.array([[2, -2, 0, 0]], dtype=np.int64))
    np.testing.assert_array_equal(t[0], [[1, -1, 0, 0]])
    assert s[0, 0] == 2.0


def test_empty_reduction_dimension():
    t, s = quantize_weights(np.zeros((3, 0), dtype=np.float32), planes=2)
    assert t.shape == (2, 3, 0) and s.shape == (2, 3)
    assert not s.any()


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "xnor"}, "method 'xnor' is unknown"),
    ({"planes": 0}, "planes=0"),
    ({"planes": 9}, "planes=9"),
    ({"planes": 1.5}, "planes=1.5"),
    ({"planes": True}, "planes=True"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(TsucError, match=match):
        quantize_weights(np.ones((2, 2), dtype=np.float32), **kwargs)


def test_bad_weights():
    with pytest.raises(TsucError, match="2-D"):
        quantize_weights(np.ones(4, dtype=np.float32))
    with pytest.raises(TsucError, match="NaN"):
        quantize_weights(np.array([[1.0, np.nan]]))
    with pytest.raises(TsucError, match="do not match"):
        dequantize_weights(np.zeros((1, 2, 3), np.int8), np.zeros((2, 2), np.float32))


# -- twn-opt -----------------------------------------------------------------------------------------

def _plane_error(r, t, s):
    return float(((r - s.astype(np.float64)[:, None] * t) ** 2).sum())


def test_twn_opt_hand_case():
    # |R| sorted: 4, 3, 1, 0.5 -> (top-k sum)^2 / k = 16, 24.5, 21.33, 18.06: keep two, scale 3.5
    # (TWN: mean 2.125, delta 1.4875, keeps the same two here). Row 1: one big entry wins alone:
    # 100, 52.02, 35.36 -> keep one, scale 10.
    w = np.array([[4.0, -1.0, 0.5, -3.0], [10.0, 0.2, -0.1, 0.0]])
    t, s = quantize_weights(w, method="twn-opt")
    np.testing.assert_array_equal(t[0], [[1, 0, 0, -1], [1, 0, 0, 0]])
    np.testing.assert_array_equal(s[0], np.float32([3.5, 10.0]))


def test_twn_opt_is_the_exact_optimum_of_each_plane():
    # brute force over every support of small rows: nothing beats it, and it never loses to twn
    rng = np.random.default_rng(3)
    import itertools

    r = rng.standard_normal((40, 7)) * rng.uniform(0.1, 3, (40, 1))
    t, s = quantize_weights(r, method="twn-opt")
    t_twn, s_twn = quantize_weights(r, method="twn")
    for n in range(r.shape[0]):
        best = min(float(((r[n] - (np.abs(r[n])[list(c)].mean()) * np.where(np.isin(np.arange(7), c), np.sign(r[n]), 0)) ** 2).sum())
                   for k in range(1, 8) for c in itertools.combinations(range(7), k))
        got = _plane_error(r[n:n + 1], t[0, n:n + 1], s[0, n:n + 1])
        assert got <= best * (1 + 1e-6) + 1e-9
        assert got <= _plane_error(r[n:n + 1], t_twn[0, n:n + 1], s_twn[0, n:n + 1]) * (1 + 1e-6) + 1e-9


@pytest.mark.parametrize("planes", [1, 2, 3])
def test_twn_opt_residual_planes_beat_twn_on_gaussian_weights(planes):
    w = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    errs = {}
    for method in ("twn", "twn-opt"):
        t, s = quantize_weights(w, method, planes)
        errs[method] = np.linalg.norm(dequantize_weights(t, s) - w) / np.linalg.norm(w)
    assert errs["twn-opt"] < errs["twn"]
    assert errs["twn-opt"] < {1: 0.437, 2: 0.21, 3: 0.135}[planes]  # measured 0.4366, 0.2077, 0.1315 (twn 0.4382, 0.2143, 0.1405)


def test_twn_opt_zero_and_empty_rows():
    t, s = quantize_weights(np.zeros((2, 5)), method="twn-opt", planes=2)
    assert not t.any() and not s.any()
    t, s = quantize_weights(np.zeros((3, 0)), method="twn-opt")
    assert t.shape == (1, 3, 0) and not s.any()

"""Activation trit planes: the documented per-tensor formula, exact digit decomposition."""

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import actquant


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_planes_recompose_every_level(k):
    lim = actquant.levels(k)
    q = np.arange(-lim, lim + 1)
    planes = actquant.trit_planes(q, k)
    assert planes.shape == (k, 2 * lim + 1)
    assert set(np.unique(planes).tolist()) <= {-1, 0, 1}
    assert np.array_equal((planes.astype(np.int64) * 3 ** np.arange(k)[:, None]).sum(axis=0), q)


def test_levels():
    assert [actquant.levels(k) for k in (1, 2, 5)] == [1, 4, 121]


def test_five_trits_formula():
    x = np.array([[0.5, -1.0, 0.25, 0.0], [1e-3, -0.3, 2.0, -2.0]], np.float32)
    q, s = actquant.quantize(x, 5)
    assert s == 2.0 / 121
    assert np.array_equal(q, np.clip(np.rint(x.astype(np.float64) / s), -121, 121))
    assert q.max() == 121 and q.min() == -121


def test_one_trit_is_sign_with_mean_abs_scale():
    x = np.array([0.5, -1.5, 0.0, 2.0], np.float32)
    q, s = actquant.quantize(x, 1)
    assert q.tolist() == [1, -1, 0, 1]
    assert s == pytest.approx(1.0)


def test_all_zero_tensor_has_unit_scale():
    q, s = actquant.quantize(np.zeros((3, 4), np.float32), 5)
    assert s == 1.0 and not q.any()


def test_nonfinite_is_refused():
    with pytest.raises(TsucError, match="NaN or infinite"):
        actquant.quantize(np.array([1.0, np.inf], np.float32), 5)


def test_nonzero_digit_table():
    t = actquant.nonzero_digit_table(3)
    lim = actquant.levels(3)
    planes = actquant.trit_planes(np.arange(-lim, lim + 1), 3)
    assert np.array_equal(t, (planes != 0).sum(axis=0))
    assert t[lim] == 0 and t[lim + 1] == 1 and t[lim + 4] == 2  # 0 -> none; 1 -> (1); 4 -> (1, 1)

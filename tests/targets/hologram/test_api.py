"""`tsuc.hologram`: the seed's API names over numpy arrays on a class pool."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tsuc.hologram as hg
from tsuc.errors import TsucError


@pytest.fixture
def ex():
    h = hg.new_executor()
    yield h
    hg.executor_cleanup(h)


def buf(ex, values):
    b = hg.executor_allocate_buffer(ex, len(values))
    hg.buffer_copy_from_slice(ex, b, np.asarray(values, np.float32))
    return b


def test_seed_example_with_json_and_numpy(ex):
    size = 1000
    a, b, c = (hg.executor_allocate_buffer(ex, size) for _ in range(3))
    hg.buffer_copy_from_slice(ex, a, json.dumps([float(i) for i in range(size)]))
    hg.buffer_copy_from_slice(ex, b, [float(2 * i) for i in range(size)])
    hg.vector_add_f32(ex, a, b, c, size)
    assert json.loads(hg.buffer_to_vec(ex, c, as_json=True))[:3] == [0.0, 3.0, 6.0]
    np.testing.assert_array_equal(hg.buffer_to_vec(ex, c), 3 * np.arange(size, dtype=np.float32))
    assert np.shares_memory(hg.buffer_view(ex, c), hg._EXECUTORS[ex].pool.memory)


def test_elementwise_activations_and_softmax(ex):
    x = np.linspace(-3, 3, 50).astype(np.float32)
    y = np.linspace(1, 2, 50).astype(np.float32)
    a, b, c = buf(ex, x), buf(ex, y), hg.executor_allocate_buffer(ex, 50)
    cases = [(hg.vector_sub_f32, x - y), (hg.vector_mul_f32, x * y), (hg.vector_div_f32, x / y),
             (hg.vector_min_f32, np.minimum(x, y)), (hg.vector_max_f32, np.maximum(x, y))]
    for fn, want in cases:
        fn(ex, a, b, c, 50)
        np.testing.assert_allclose(hg.buffer_to_vec(ex, c), want, rtol=1e-6)
    gelu = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    for fn, want in [(hg.vector_abs_f32, np.abs(x)), (hg.vector_neg_f32, -x), (hg.vector_relu_f32, np.maximum(x, 0)),
                     (hg.sigmoid_f32, 1 / (1 + np.exp(-x))), (hg.tanh_f32, np.tanh(x)), (hg.gelu_f32, gelu),
                     (hg.softmax_f32, np.exp(x) / np.exp(x).sum())]:
        fn(ex, a, c, 50)
        np.testing.assert_allclose(hg.buffer_to_vec(ex, c), want, rtol=1e-5, atol=1e-6, err_msg=fn.__name__)
    hg.vector_clip_f32(ex, a, c, 50, -1, 1)
    np.testing.assert_array_equal(hg.buffer_to_vec(ex, c), np.clip(x, -1, 1))


def test_reductions_and_losses_need_one_output_element(ex):
    x = np.array([0.2, 0.5, 0.3], np.float32)
    t = np.array([0.0, 1.0, 0.0], np.float32)
    a, b, out = buf(ex, x), buf(ex, t), hg.executor_allocate_buffer(ex, 1)
    assert hg.reduce_sum_f32(ex, a, out, 3) == pytest.approx(1.0)
    assert hg.reduce_max_f32(ex, a, out, 3) == pytest.approx(0.5) and hg.buffer_to_vec(ex, out)[0] == pytest.approx(0.5)
    assert hg.reduce_min_f32(ex, a, out, 3) == pytest.approx(0.2)
    assert hg.mse_loss_f32(ex, a, b, out, 3) == pytest.approx(np.mean((x - t) ** 2))
    assert hg.cross_entropy_loss_f32(ex, a, b, out, 3) == pytest.approx(-math.log(0.5))
    bce = -np.mean(t * np.log(x) + (1 - t) * np.log(1 - x))
    assert hg.binary_cross_entropy_loss_f32(ex, a, b, out, 3) == pytest.approx(bce, rel=1e-6)


def test_gemm_names_mean_what_they_say(ex):
    m, n, k = 2, 3, 4
    A = np.arange(m * k, dtype=np.float32).reshape(m, k)
    B = np.arange(k * n, dtype=np.float32).reshape(k, n) / 10
    a, b, c = buf(ex, A.ravel()), buf(ex, B.ravel()), hg.executor_allocate_buffer(ex, m * n)
    hg.gemm_f32(ex, a, b, c, m, n, k)
    np.testing.assert_allclose(hg.buffer_to_vec(ex, c).reshape(m, n), A @ B, rtol=1e-6)
    with pytest.raises(TsucError, match="prototype's order"):
        hg.gemm_f32(ex, a, b, c, m, k, n)  # the prototype's (m, k, n)
    y = hg.executor_allocate_buffer(ex, m)
    hg.matvec_f32(ex, a, buf(ex, np.ones(k)), y, m, k)
    np.testing.assert_allclose(hg.buffer_to_vec(ex, y), A.sum(1))


def test_freed_classes_are_reused_beyond_96_buffers(ex):
    for i in range(500):
        h = hg.executor_allocate_buffer(ex, 3072)  # exactly one class
        hg.buffer_copy_from_slice(ex, h, np.full(3072, i, np.float32))
        assert hg.buffer_to_vec(ex, h)[0] == i
        hg.buffer_cleanup(h)
    stats = hg.executor_stats(ex)
    assert stats["buffers_allocated"] == 500 and stats["spill_bytes"] == 0 and stats["classes_in_use"] == 0


def test_pool_full_spills_and_big_buffers_take_class_runs(ex):
    big = hg.executor_allocate_buffer(ex, 3072 * 90 + 1)  # 91 classes
    assert hg._BUFFERS[big].count == 91
    held = [hg.executor_allocate_buffer(ex, 3072) for _ in range(5)]
    extra = hg.executor_allocate_buffer(ex, 10)
    assert hg.executor_stats(ex)["spill_bytes"] == 40 and hg._BUFFERS[extra].first is None
    for h in held:
        hg.buffer_cleanup(h)
    assert hg._BUFFERS[hg.executor_allocate_buffer(ex, 3072 * 5)].first == 91


def test_cost_model_counts_every_call(ex):
    a, c = buf(ex, np.ones(160)), hg.executor_allocate_buffer(ex, 160)
    hg.vector_relu_f32(ex, a, c, 160)
    hg.tanh_f32(ex, a, c, 160)
    stats = hg.executor_stats(ex)
    assert stats["calls"] == 2 and stats["cycles"] == (20 + 10) + (20 + 80) and stats["lane_ops"] == 320


def test_errors_are_one_sentence(ex):
    a = hg.executor_allocate_buffer(ex, 4)
    with pytest.raises(TsucError, match="exceeds buffer"):
        hg.vector_relu_f32(ex, a, a, 5)
    with pytest.raises(TsucError, match="JSON"):
        hg.buffer_copy_from_slice(ex, a, "not json")
    with pytest.raises(TsucError, match="does not belong"):
        hg.buffer_to_vec(ex, 10 ** 9)
    other = hg.new_executor()
    hg.executor_cleanup(other)
    with pytest.raises(TsucError, match="does not exist"):
        hg.executor_allocate_buffer(other, 4)

"""The compiled tfmbs artifact equals the independent numpy reference bit for bit.

Each test builds a small ONNX model, compiles it with `tsuc.compile(..., target="tfmbs")`,
runs the artifact and compares with `reference.py`, which spells the fabric's arithmetic
out step by step (ternary weight planes x balanced-ternary activation trit planes, int32
accumulation per frame, chunks chained, scales and bias on the host in float32).
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from . import reference as ref

needs_target = pytest.mark.skipif(importlib.util.find_spec("tsuc.targets.tfmbs.target") is None,
                                reason="tfmbs target not landed yet")


def _model(nodes, inits, x_shape, y_shape, name="m"):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _run(model, x, tmp_path, **options):
    import tsuc

    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"), options=options)
    kinds = [s["kind"] for s in exe.manifest["segments"]]
    assert "tfmbs" in kinds, kinds
    y = exe.run({"x": x})["y"]
    assert exe.profile()["total"]["cycles"] > 0
    # The artifact as written to disk gives the same numbers.
    again = tsuc.load(str(tmp_path / "m.tsuc")).run({"x": x})["y"]
    np.testing.assert_array_equal(y, again)
    return y


def _rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


OPTION_CASES = [
    {},
    {"w_planes": 2},
    {"w_planes": 3, "act_trits": 2},
    {"act_trits": 1},
    {"quant": "sign", "act_trits": 3},
    {"quant": "twn-opt", "w_planes": 2},
]


def _ref_opts(options):
    return {"quant": options.get("quant", "twn"), "w_planes": options.get("w_planes", 1),
            "act_trits": options.get("act_trits", 5)}


@needs_target
@pytest.mark.parametrize("options", OPTION_CASES)
def test_gemm_transposed_with_bias(options, tmp_path):
    w, b = _rand((75, 40), 1), _rand((75,), 2)
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"w": w, "b": b}, [6, 40], [6, 75])
    x = _rand((6, 40), 3)
    np.testing.assert_array_equal(_run(model, x, tmp_path, **options), ref.linear(x, w, b, **_ref_opts(options)))


@needs_target
def test_gemm_not_transposed_without_bias(tmp_path):
    w = _rand((30, 17), 4)  # B[K, N]
    model = _model([helper.make_node("Gemm", ["x", "w"], ["y"])], {"w": w}, [3, 30], [3, 17])
    x = _rand((3, 30), 5)
    np.testing.assert_array_equal(_run(model, x, tmp_path), ref.linear(x, w.T, None))


@needs_target
def test_gemm_alpha_beta(tmp_path):
    w, c = _rand((20, 12), 16), _rand((1, 12), 17)  # B[K, N], C broadcast over rows
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], alpha=0.7, beta=1.3)
    model = _model([node], {"w": w, "c": c}, [4, 20], [4, 12])
    x = _rand((4, 20), 18)
    expect = ref.gemm(x, w, c, alpha=0.7, beta=1.3, w_planes=2)
    np.testing.assert_array_equal(_run(model, x, tmp_path, w_planes=2), expect)


@needs_target
def test_gemm_long_reduction_and_wide_output(tmp_path):
    """K = 2100 -> three chained chunks (1024, 1024, 52); N = 130 -> three groups of <= 60."""
    w, b = _rand((130, 2100), 6, 0.05), _rand((130,), 7)
    model = _model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"w": w, "b": b}, [2, 2100], [2, 130])
    x = _rand((2, 2100), 8)
    np.testing.assert_array_equal(_run(model, x, tmp_path, w_planes=2), ref.linear(x, w, b, w_planes=2))


@needs_target
@pytest.mark.parametrize("options", [{}, {"act_trits": 1}])
def test_matmul(options, tmp_path):
    w = _rand((24, 33), 9)  # B[K, N]
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": w}, [2, 5, 24], [2, 5, 33])
    x = _rand((2, 5, 24), 10)
    np.testing.assert_array_equal(_run(model, x, tmp_path, **options), ref.matmul(x, w, **_ref_opts(options)))


@needs_target
@pytest.mark.parametrize("options", [{}, {"w_planes": 2, "act_trits": 3}])
def test_conv(options, tmp_path):
    w, b = _rand((8, 3, 3, 3), 11), _rand((8,), 12)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    model = _model([node], {"w": w, "b": b}, [2, 3, 9, 9], [2, 8, 5, 5])
    x = _rand((2, 3, 9, 9), 13)
    expect = ref.conv2d(x, w, b, strides=(2, 2), pads=(1, 1, 1, 1), **_ref_opts(options))
    np.testing.assert_array_equal(_run(model, x, tmp_path, **options), expect)


@needs_target
def test_conv_no_padding_no_bias(tmp_path):
    w = _rand((4, 2, 2, 3), 14)
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[2, 3])], {"w": w}, [1, 2, 6, 7], [1, 4, 5, 5])
    x = _rand((1, 2, 6, 7), 15)
    np.testing.assert_array_equal(_run(model, x, tmp_path), ref.conv2d(x, w, None))


def _mlp(seed=20):
    ws = [_rand((48, 32), seed, 0.3), _rand((48,), seed + 1, 0.1), _rand((40, 48), seed + 2, 0.3),
          _rand((40,), seed + 3, 0.1), _rand((10, 40), seed + 4, 0.3), _rand((10,), seed + 5, 0.1)]
    names = ["w1", "b1", "w2", "b2", "w3", "b3"]
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"], transB=1), helper.make_node("Relu", ["h1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], transB=1), helper.make_node("Relu", ["h2"], ["a2"]),
        helper.make_node("Gemm", ["a2", "w3", "b3"], ["y"], transB=1),
    ]
    return _model(nodes, dict(zip(names, ws)), [4, 32], [4, 10]), ws


@needs_target
@pytest.mark.parametrize("options", [{}, {"w_planes": 2}, {"act_trits": 1}])
def test_whole_mlp(options, tmp_path):
    model, (w1, b1, w2, b2, w3, b3) = _mlp()
    x = _rand((4, 32), 30)
    o = _ref_opts(options)
    h = np.maximum(ref.linear(x, w1, b1, **o), np.float32(0))
    h = np.maximum(ref.linear(h, w2, b2, **o), np.float32(0))
    expect = ref.linear(h, w3, b3, **o)
    np.testing.assert_array_equal(_run(model, x, tmp_path, **options), expect)


@needs_target
def test_whole_convnet(tmp_path):
    """Conv -> Relu -> Conv -> Relu -> Flatten -> Gemm: fabric and host segments interleave."""
    rng_w = [_rand((6, 1, 3, 3), 40), _rand((6,), 41, 0.1), _rand((4, 6, 3, 3), 42, 0.3), _rand((4,), 43, 0.1),
             _rand((5, 4 * 4 * 4), 44, 0.2), _rand((5,), 45, 0.1)]
    w1, b1, w2, b2, w3, b3 = rng_w
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    model = _model(nodes, dict(zip(["w1", "b1", "w2", "b2", "w3", "b3"], rng_w)), [2, 1, 8, 8], [2, 5])
    x = _rand((2, 1, 8, 8), 46)
    h = np.maximum(ref.conv2d(x, w1, b1, pads=(1, 1, 1, 1)), np.float32(0))
    h = np.maximum(ref.conv2d(h, w2, b2, strides=(2, 2), pads=(1, 1, 1, 1)), np.float32(0))
    expect = ref.linear(h.reshape(2, -1), w3, b3)
    np.testing.assert_array_equal(_run(model, x, tmp_path), expect)


# -- the oracle itself ------------------------------------------------------------------------

def test_reference_balanced_ternary_round_trips():
    for k in (1, 2, 5):
        m = (3 ** k - 1) // 2
        values = np.arange(-m, m + 1)
        digits = ref.balanced_ternary(values, k)
        assert set(np.unique(digits)) <= {-1, 0, 1}
        np.testing.assert_array_equal((digits.astype(np.int64) * (3 ** np.arange(k))[:, None]).sum(0), values)
        # Every integer has exactly one representation: all codes are distinct.
        assert len({tuple(c) for c in digits.T}) == values.size
    with pytest.raises(ValueError):
        ref.balanced_ternary(np.array([5]), 1)


def test_reference_activation_quantiser():
    x = np.array([[0.5, -1.0, 0.25, 0.0]], dtype=np.float32)
    q, s = ref.quantize_activations(x, 2)  # m = 4, s = 0.25
    assert s == 0.25
    np.testing.assert_array_equal(q, [[2, -4, 1, 0]])
    q, s = ref.quantize_activations(x, 1)
    np.testing.assert_array_equal(q, [[1, -1, 1, 0]])
    assert s == 1.75 / 4
    q, s = ref.quantize_activations(np.zeros((2, 3), np.float32), 5)
    assert s == 1.0 and not q.any()  # a zero tensor gets scale 1 and levels 0
    # Round half to even: 0.125 / 0.25 = 0.5 -> 0, 0.375 / 0.25 = 1.5 -> 2.
    q, _ = ref.quantize_activations(np.array([1.0, 0.125, 0.375], np.float32), 2)
    np.testing.assert_array_equal(q, [4, 0, 2])


def test_reference_accumulation_chains_chunks_and_wraps():
    rng = np.random.default_rng(53)
    w = rng.integers(-1, 2, (70, 2500)).astype(np.int8)
    x = rng.integers(-1, 2, (3, 2500)).astype(np.int8)
    np.testing.assert_array_equal(ref.fabric_accumulate(w, x), x.astype(np.int64) @ w.astype(np.int64).T)
    big = np.array([[2 ** 31 - 1, 1]], dtype=np.int64)
    assert ref._wrap(big.sum(1), 32)[0] == -(2 ** 31) and ref._wrap(np.array([128]), 8)[0] == -128


@pytest.mark.parametrize("act_trits, planes", [(5, 1), (3, 3), (1, 2)])
def test_reference_equals_the_dequantised_float_product(act_trits, planes):
    """Sanity of the oracle itself: the integer frame pipeline is x_hat W_hat^T + b up to float rounding,
    and more planes / trits bring it closer to the float layer."""
    from tsuc.targets.tfmbs.quantize import dequantize_weights, quantize_weights

    w, b = _rand((70, 1100), 50), _rand((70,), 51)
    x = _rand((7, 1100), 52)
    t, s = quantize_weights(w, "twn", planes)
    x_int, sx = ref.quantize_activations(x, act_trits)
    expect = (x_int * np.float64(sx)) @ dequantize_weights(t, s).astype(np.float64).T + b
    got = ref.linear(x, w, b, w_planes=planes, act_trits=act_trits)
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4 * np.abs(expect).max())


def test_reference_error_falls_with_precision():
    w, b = _rand((40, 200), 54), _rand((40,), 55)
    x = _rand((16, 200), 56)
    exact = x @ w.T + b
    err = [np.linalg.norm(ref.linear(x, w, b, w_planes=p, act_trits=k) - exact) / np.linalg.norm(exact)
           for p, k in [(1, 1), (1, 5), (2, 5), (3, 5)]]
    assert all(b_ < a_ for a_, b_ in zip(err, err[1:])), err
    assert err[-1] < 0.2, err


# -- the digits example, quick mode ----------------------------------------------------------------

@needs_target
def test_digits_example_quick(capsys):
    """examples/digits_tfmbs.py --quick: every tfmbs figure comes from a compiled artifact that
    equals the reference bit for bit, and the fine-tuned layers equal their compiled model."""
    import importlib.util as iu
    import pathlib

    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    path = pathlib.Path(__file__).resolve().parents[3] / "examples" / "digits_tfmbs.py"
    spec = iu.spec_from_file_location("digits_tfmbs_example", path)
    example = iu.module_from_spec(spec)
    sys.modules[spec.name] = example  # its dataclasses look their module up
    spec.loader.exec_module(example)
    report = example.main(["--quick"])
    out = capsys.readouterr().out
    assert report["backend"] == "compiled"
    assert report["bitexact_reference"] and report["bitexact_qat"]
    rows = {r.label: r for r in report["rows"]}
    assert len(rows) == 10
    for planes in (1, 2, 3):  # twn-opt's weights are closer to float than twn's, plane for plane
        twn, opt = rows[f"tfmbs act_trits=5, w_planes={planes}"], rows[f"tfmbs twn-opt, act_trits=5, w_planes={planes}"]
        assert opt.extra["weight_error"] < twn.extra["weight_error"]
    float_acc = rows["float (torch)"].accuracy
    assert float_acc > 0.9
    # Seeded and deterministic: the quick run meets both targets too.
    assert all(report["checks"].values()), report["checks"]
    for label, row in rows.items():
        if label.startswith("tfmbs") or label.startswith("fine-tuned, tfmbs"):
            assert row.cycles_per_image > 0
    assert "w_planes=2 within 2 points of float: met" in out
    # TFMBSLinear driving the Fabric model frame by frame counts the same cycles per image as the
    # compiled artifact's closed-form profile (same placement, same frame program).
    assert rows["fine-tuned, TFMBSLinear eval (Fabric model)"].cycles_per_image == \
        rows["fine-tuned, tfmbs act_trits=5, w_planes=1"].cycles_per_image

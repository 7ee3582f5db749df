"""`tfmbs-to-linalg` output parses and verifies in upstream MLIR (the torch-mlir wheel's bindings)."""

import pytest
from onnx import helper

ir = pytest.importorskip("torch_mlir.ir", reason="upstream MLIR bindings need `pip install tsuc[mlir]` (torch-mlir)")

from tsuc.compiler.driver import lower, print_ir  # noqa: E402
from tsuc.targets.registry import get_target  # noqa: E402
from tests.targets.tfmbs.models import one_graph_model as _model, rand as _rand, resnet_block  # noqa: E402


MODELS = {
    "gemm_bias_alpha": (_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.5, name="fc")],
                               {"w": _rand((70, 40), 1), "b": _rand((70,), 2)}, [3, 40], [3, 70]), {"w_planes": 2}),
    "matmul_3d_sign": (_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"w": _rand((24, 9), 3)},
                              [2, 5, 24], [2, 5, 9]), {"act_trits": 1}),
    "conv_padded": (_model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                             strides=[2, 2], name="c1")], {"w": _rand((8, 3, 3, 3), 4)},
                           [2, 3, 9, 9], [2, 8, 5, 5]), {"act_trits": 3}),
    "two_layers": (_model([helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1, name="fc1"),
                           helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1, name="fc2")],
                          {"w1": _rand((16, 8), 5), "w2": _rand((4, 16), 6)}, [1, 8], [1, 4]), {}),
}


def _walk(op):
    for region in op.regions:
        for block in region.blocks:
            for inner in block.operations:
                yield inner
                yield from _walk(inner)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_linalg_view_parses_and_verifies_upstream(name):
    model, options = MODELS[name]
    target = get_target("tfmbs", options)
    module, _, _, text = lower(model, [target], emit="linalg")
    assert "tfmbs." not in text.replace("tfmbs0", "").replace("tfmbs1", "")  # every tfmbs op was lowered
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = False
    parsed = ir.Module.parse(print_ir(module), ctx)
    assert parsed.operation.verify()
    ops = list(_walk(parsed.operation))
    matmuls = [o for o in ops if o.name == "linalg.matmul"]
    planes = options.get("w_planes", 1) * options.get("act_trits", 5)
    layers = 2 if name == "two_layers" else 1
    assert len(matmuls) == planes * layers
    for mm in matmuls:  # tile_mask, telemetry and schedule survive as attributes
        attrs = {a if isinstance(a, str) else a.name for a in mm.attributes}
        assert {"tile_mask", "telemetry", "schedule"} <= attrs
        tel = str(mm.attributes["telemetry"])
        for key in ("layer", "sparsity", "tile_mask", "fusion_order", "fusion_sparsity"):
            assert key in tel
    # weights stay out of the text: constants refer to resources by handle
    assert any(o.name == "arith.constant" and "dense_resource" in str(o.attributes["value"]) for o in ops)


def test_emit_linalg_is_one_function_per_fabric_segment_and_compiles_afterwards(tmp_path):
    import tsuc

    model, _ = MODELS["two_layers"]
    _, _, _, text = lower(model, [get_target("tfmbs")], emit="linalg")
    assert "linalg.matmul" in text and "tsuc." not in text and "onnx." not in text
    assert text.count("func.func @tfmbs") == 1 and "dialect_resources" in text
    exe = tsuc.compile(model, target="tfmbs", output=str(tmp_path / "m.tsuc"))
    assert [s["kind"] for s in exe.manifest["segments"]] == ["tfmbs"]


def _torch_mlir_opt():
    import os
    import shutil

    import torch_mlir

    for folder in torch_mlir.__path__:
        path = os.path.join(folder, "_mlir_libs", "torch-mlir-opt")
        if os.access(path, os.X_OK):
            return path
    return shutil.which("torch-mlir-opt") or pytest.skip("the torch-mlir wheel ships no torch-mlir-opt binary here")


PIPE_MODELS = {
    # ReLU between the layers, not folded: two fabric segments, a host segment between them (dropped from the view)
    "mlp_relu_dynamic": (_model([helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1, name="fc1"), helper.make_node("Relu", ["h"], ["r"]),
                                 helper.make_node("Gemm", ["r", "w2"], ["y"], transB=1, name="fc2")],
                                {"w1": _rand((16, 8), 5), "w2": _rand((4, 16), 6)}, ["b", 8], ["b", 4]),
                         ["--option", "act_trits=1", "--option", "fold=false"], 2),
    # a ResNet downsample block, BN folded, residual Add and Relu as tfmbs.post: one function
    "resnet_block_dynamic": (resnet_block(out_channels=12, batch=None)[0], [], 1),
    "conv_dynamic_batch": (_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="c")],
                                  {"w": _rand((6, 3, 3, 3), 1), "b": _rand((6,), 2)}, ["n", 3, 7, 7], ["n", 6, 7, 7]),
                           ["--option", "w_planes=2", "--option", "act_trits=2"], 1),
    "matmul_3d_dynamic": (_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"w": _rand((24, 17), 9)},
                                 ["b", 3, 24], ["b", 3, 17]), [], 1),
}


@pytest.mark.parametrize("elide", [False, True], ids=["weights", "elided"])
@pytest.mark.parametrize("name", sorted(PIPE_MODELS))
def test_cli_emit_linalg_pipes_into_torch_mlir_opt(name, elide, tmp_path):
    import subprocess
    import sys

    import onnx

    model, options, funcs = PIPE_MODELS[name]
    src = str(tmp_path / "m.onnx")
    onnx.save(model, src)
    cmd = [sys.executable, "-m", "tsuc.tools.cli", "compile", src, "--target", "tfmbs", "--emit", "linalg", *options]
    cli = subprocess.run(cmd + (["--elide-weights"] if elide else []), capture_output=True, text=True, check=True)
    text = cli.stdout
    assert text.count("func.func @tfmbs") == funcs and "dense_resource<" in text
    assert ("dialect_resources" in text) != elide
    opt = subprocess.run([_torch_mlir_opt()], input=text, capture_output=True, text=True)
    assert opt.returncode == 0, opt.stderr
    assert opt.stdout.count("linalg.matmul") == text.count("linalg.matmul") > 0
    assert "telemetry" in opt.stdout and "tile_mask" in opt.stdout
    if name == "resnet_block_dynamic":  # BN, Add and Relu folded: nothing left for the host
        assert "onnx." not in text and "tfmbs." not in text.replace("@tfmbs0", "")

"""Bad input of every kind ends in one `TsucError` sentence (CLI: `error: ...`, exit 1).

Each test re-runs one crash found by reading the code or by fuzzing (issue 12)."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import tsuc
from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime import load


def _mlp(bias_len: int = 4, opset: int = 17) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc")], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        initializer=[numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w"),
                     numpy_helper.from_array(np.ones(bias_len, np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _rewrite(path: str, edit) -> None:
    """Apply `edit(manifest, members)` to an artifact and recompute every checksum, as a
    tamperer would; only the loader's own validation can then catch the edit."""
    from tsuc.tools.fuzz import rewrite_artifact

    rewrite_artifact(path, edit)


@pytest.fixture
def artifact(tmp_path):
    path = str(tmp_path / "m.tsuc")
    tsuc.compile(_mlp(), target="cpu", output=path)
    return path


def _npy_member(manifest) -> str:
    return next(n for n, e in manifest["members"].items() if e.get("kind") == "array")


@pytest.mark.parametrize("descr, shape, nbytes, manifest_shape, words", [
    ("|O", "(2,)", 16, [2], "dtype"), ("<U4", "(1,)", 16, [1], "dtype <U4"), ("|V8", "(1,)", 8, [1], "dtype |V8"),
    ("<f4", "(1000000000000000000000000000000,)", 16, [10**30], "wrong number of bytes"),
    ("<f4", "(-4, -1)", 16, [4], "invalid shape"), ("<f4", "(2, 2)", 16, [4], "manifest says"),
])
def test_loader_refuses_npy_headers_tsuc_never_writes(artifact, descr, shape, nbytes, manifest_shape, words):
    """The payload has exactly the bytes the header asks for, so only the named check can refuse it."""
    def edit(manifest, members):
        name = _npy_member(manifest)
        header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
        body = header.encode() + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
        members[name] = b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body + b"\0" * nbytes
        manifest["members"][name]["dtype"] = descr
        manifest["members"][name]["shape"] = manifest_shape

    _rewrite(artifact, edit)
    with pytest.raises(ArtifactError, match=words) as err:
        load(artifact)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("field, value", [
    ("inputs", [{"name": 3, "dtype": "float32", "shape": [1]}]), ("outputs", [{"name": "y", "dtype": "float32", "shape": [10**30]}]),
    ("segments", [{"name": "s", "kind": "onnx", "inputs": "x", "outputs": []}]), ("targets", ["cpu"]), ("targets", [{"name": "cpu", "options": {"x": [1]}}]), ("segments", {"a": 1}),
])
def test_loader_validates_manifest_fields(artifact, field, value):
    _rewrite(artifact, lambda manifest, members: manifest.__setitem__(field, value))
    with pytest.raises(ArtifactError, match="manifest"):
        load(artifact)


def test_loader_refuses_a_segment_config_of_the_wrong_kind(artifact):
    def edit(manifest, members):
        manifest["segments"][0]["config"] = {"initializers": [1, 2]}

    _rewrite(artifact, edit)
    with pytest.raises(ArtifactError, match="malformed"):
        load(artifact)


def test_gemm_bias_that_does_not_broadcast_is_refused_at_compile_time():
    with pytest.raises(TsucError, match=r"bias C of shape \[5\] does not broadcast to the output shape \[2, 4\]"):
        tsuc.compile(_mlp(bias_len=5), target="cpu")


def test_initializer_bytes_that_do_not_match_dims(tmp_path):
    model = _mlp()
    model.graph.initializer[1].raw_data = model.graph.initializer[1].raw_data[:-4]
    with pytest.raises(TsucError, match="initializer 'b'"):
        tsuc.compile(model, target="cpu")


def test_external_data_outside_the_model_folder(tmp_path):
    model = _mlp()
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../outside.bin"), ("offset", "0"), ("length", "128")):
        e = t.external_data.add()
        e.key, e.value = k, v
    (tmp_path / "outside.bin").write_bytes(b"\0" * 128)
    os.mkdir(tmp_path / "m")
    onnx.save(model, str(tmp_path / "m" / "model.onnx"))
    with pytest.raises(TsucError, match="cannot read its external data"):
        tsuc.compile(str(tmp_path / "m" / "model.onnx"), target="cpu")


def test_model_newer_than_onnx_is_refused_in_our_words():
    model = _mlp(opset=17)
    model.opset_import[0].version = onnx.defs.onnx_opset_version() + 5
    with pytest.raises(TsucError, match="newer than opset .* install a newer onnx"):
        tsuc.compile(model, target="cpu")


def test_bfloat16_torch_input_is_refused_in_one_sentence(artifact):
    torch = pytest.importorskip("torch")
    exe = load(artifact)
    with pytest.raises(TsucError, match="bfloat16 tensor, which numpy cannot hold"):
        exe.run({"x": torch.zeros(2, 8, dtype=torch.bfloat16)})
    with pytest.raises(TsucError, match="dict"):
        exe.run([np.zeros((2, 8), np.float32)])


@pytest.mark.parametrize("raw", ["inf", "nan", float("inf"), "1e999"])
def test_non_finite_options_and_params_are_refused(raw):
    from tsuc.runtime.tsu.options import IsingParams, TsuOptions

    with pytest.raises(TsucError, match="option tsu.beta1=.* must be finite"):
        TsuOptions.create({"beta1": raw})
    with pytest.raises(TsucError, match="parameter tsu.time_limit=.* must be finite"):
        IsingParams.create({"time_limit": raw})
    with pytest.raises(TsucError, match="parameter tsu.reads=inf is not an integer"):
        IsingParams.create({"reads": float("inf")})


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    from tsuc.extras import require

    monkeypatch.setitem(sys.modules, "minorminer", None)  # import fails as if not installed
    with pytest.raises(TsucError, match=r"pip install 'tsuc\[tsu\]'"):
        require("minorminer", "tsu", "embedding into topology=king")


def test_problem_readers_refuse_hostile_files(tmp_path):
    from tsuc.targets.tsu.problems import read_bqm, read_gset

    (tmp_path / "big.txt").write_text("1000000000000 1\n1 2 1\n")
    with pytest.raises(TsucError, match="exceeds"):
        read_gset(str(tmp_path / "big.txt"))
    (tmp_path / "w.txt").write_text("3 2\n1 2 1.7e308\n2 3 1.7e308\n")
    with pytest.raises(TsucError, match="overflows"):
        read_gset(str(tmp_path / "w.txt"))
    (tmp_path / "deep.json").write_text('{"vartype": "SPIN", "linear": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(TsucError, match="nests too deeply"):
        read_bqm(str(tmp_path / "deep.json"))
    (tmp_path / "bigint.json").write_text('{"vartype": "SPIN", "linear": {"a": 1}, "offset": 1' + "0" * 400 + "}")
    with pytest.raises(TsucError, match="finite number"):
        read_bqm(str(tmp_path / "bigint.json"))


@pytest.mark.parametrize("option, make", [
    ("--trace", lambda d: str(d / "missing" / "t.json")),
    ("--profile-json", lambda d: str(d / "missing" / "p.json")),
    ("--output-dir", lambda d: str(d / "afile" / "out")),
])
def test_cli_checks_output_paths_before_running(artifact, tmp_path, option, make):
    from tsuc.tools.cli import main

    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(main, ["run", artifact, "--random-inputs", option, make(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "internal error" not in result.output
    assert "y:" not in result.output  # refused before any work, not after printing the outputs


def test_names_that_are_not_utf8(tmp_path):
    model = _mlp()
    model.graph.initializer[1].name = "Zb"
    model.graph.node[0].input[2] = "Zb"
    data = model.SerializeToString().replace(b"Zb", b"\xf7b")  # same length: the protobuf stays well-formed
    (tmp_path / "m.onnx").write_bytes(data)
    with pytest.raises(TsucError, match="not valid UTF-8"):
        tsuc.compile(str(tmp_path / "m.onnx"), target="cpu")


def test_integer_options_beyond_64_bits():
    from tsuc.targets.registry import get_target

    with pytest.raises(TsucError, match="64 bits"):
        get_target("tsu", {"n_pbits": 10**30})

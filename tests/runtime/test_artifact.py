"""The artifact is deterministic, verified before use, and refuses bad files with one sentence."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import tsuc
from tsuc.errors import ArtifactError


def test_compile_twice_is_byte_identical(tiny_model, tmp_path):
    a, b = tmp_path / "a.tsuc", tmp_path / "b.tsuc"
    tsuc.compile(tiny_model, target="cpu", output=str(a), input_shapes={"x": [2, 4]})
    tsuc.compile(tiny_model, target="cpu", output=str(b), input_shapes={"x": [2, 4]})
    assert a.read_bytes() == b.read_bytes()


def test_manifest_fields(tiny_model, tmp_path):
    out = tmp_path / "m.tsuc"
    exe = tsuc.compile(tiny_model, target="cpu", output=str(out), input_shapes={"x": [2, 4]})
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names[0] == "manifest.json"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format_version"] == 2
    assert manifest["targets"] == [{"name": "cpu", "options": {}}]
    assert manifest["compile_options"] == {"fallback": "host"}
    assert all(seg["target"] == "host" for seg in manifest["segments"])
    assert manifest["inputs"] == [{"name": "x", "dtype": "float32", "shape": [2, 4]}]
    assert manifest["outputs"] == [{"name": "y", "dtype": "float32", "shape": [2, 3]}]
    assert manifest["op_stats"]["by_target"] == {"host": 3}
    assert set(manifest["members"]) == set(names[1:])
    assert all(len(e["sha256"]) == 64 for e in manifest["members"].values())
    assert exe.outputs[0].name == "y"


def _rewrite(src, dst, mutate):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            name, data = mutate(info.filename, data)
            if name is not None:
                zout.writestr(name, data)


@pytest.fixture
def artifact(tiny_model, tmp_path):
    path = tmp_path / "ok.tsuc"
    tsuc.compile(tiny_model, target="cpu", output=str(path), input_shapes={"x": [2, 4]})
    return path


def test_truncated_artifact(artifact, tmp_path):
    bad = tmp_path / "trunc.tsuc"
    bad.write_bytes(artifact.read_bytes()[: artifact.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="not a tsuc artifact|truncated"):
        tsuc.load(str(bad))


def test_tampered_member(artifact, tmp_path):
    bad = tmp_path / "tampered.tsuc"
    data = bytearray(artifact.read_bytes())
    with zipfile.ZipFile(artifact) as zf:
        info = zf.infolist()[-1]
    idx = data.find(info.filename.encode(), info.header_offset) + len(info.filename) + 64 + 8
    data[idx] ^= 0xFF  # flip a byte inside the last member's data
    bad.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256"):
        tsuc.load(str(bad))


def test_member_with_dotdot(artifact, tmp_path):
    bad = tmp_path / "dotdot.tsuc"
    _rewrite(artifact, bad, lambda n, d: (("../evil.onnx" if n.startswith("segments/") else n), d))
    with pytest.raises(ArtifactError, match="safe relative path"):
        tsuc.load(str(bad))


def test_unlisted_member(artifact, tmp_path):
    bad = tmp_path / "extra.tsuc"
    with zipfile.ZipFile(artifact) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr("extra.bin", b"surprise")
    with pytest.raises(ArtifactError, match="not listed in the manifest"):
        tsuc.load(str(bad))


def test_future_format_version(artifact, tmp_path):
    bad = tmp_path / "future.tsuc"

    def bump(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["format_version"] = 99
            data = json.dumps(m).encode()
        return name, data

    _rewrite(artifact, bad, bump)
    with pytest.raises(ArtifactError, match="format version 99"):
        tsuc.load(str(bad))


def test_random_bytes_are_not_an_artifact(tmp_path):
    bad = tmp_path / "noise.tsuc"
    bad.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ArtifactError, match="not a tsuc artifact"):
        tsuc.load(str(bad))


def test_arrays_are_zero_copy_and_read_only(tmp_path):
    from tsuc.compiler.artifact_writer import ArtifactBuilder
    from tsuc.runtime.artifact import ArtifactReader

    builder = ArtifactBuilder()
    builder.add_text("notes.txt", "odd length text to misalign what follows")
    builder.add_array("w.npy", np.arange(1000, dtype=np.float32))
    builder.write(tmp_path / "a.tsuc", {"targets": [{"name": "cpu", "options": {}}], "inputs": [], "outputs": [], "segments": []})
    arr = ArtifactReader.open(tmp_path / "a.tsuc").array("w.npy")
    np.testing.assert_array_equal(arr, np.arange(1000, dtype=np.float32))
    assert not arr.flags.writeable
    assert arr.ctypes.data % 64 == 0

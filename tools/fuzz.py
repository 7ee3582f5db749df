"""Fuzz cases for tsuc's input surfaces, each run in a child process under limits.

A case is generated from one integer seed (so a failure is reproduced by its seed alone) in
one of these families:

* `onnx-bytes`: a valid seed model's bytes with bit flips, truncation, spliced bytes;
* `onnx-fields`: a seed model with one proto field set to a hostile value (dims of 10^12 or
  -1, an initializer whose bytes do not match its dims, an external-data location outside the
  model's folder, a huge attribute, an unknown op or domain, a nested If, a wrong bias);
* `artifact`: a compiled artifact truncated, bit-flipped, or with its manifest or an `.npy`
  header edited and the checksums recomputed (the tampering a checksum cannot catch);
* `options`: target options and run parameters of every kind of value (NaN, inf, 10^30,
  negative, strings, nested lists), through the Python API;
* `problem`: G-set text and BQM JSON, malformed or hostile (huge headers, deep nesting).

Running a case: any `TsucError` (one sentence) or success is fine; any other exception is a
*crash*; a child that outlives its timeout is a *hang* (killed); a file created outside the
case's own folder is an *escape*. Children run under `resource.setrlimit(RLIMIT_AS)`, so a
giant allocation fails as MemoryError (a crash) instead of taking the machine down.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import struct
import tempfile
import traceback
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("onnx-bytes", "onnx-fields", "artifact", "options", "problem")
MEMORY_LIMIT = 6 << 30
TIMEOUT_S = 60.0


# -- seeds -------------------------------------------------------------------------------------

def seed_models() -> list[Any]:
    """Small valid models: an MLP (Gemm), a conv net, an If reading an outer value, a Loop."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    f = TensorProto.FLOAT
    mlp = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"), helper.make_node("Relu", ["h"], ["y"], name="relu")],
        "mlp", [helper.make_tensor_value_info("x", f, [2, 8])], [helper.make_tensor_value_info("y", f, [2, 4])],
        initializer=[numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w"),
                     numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")])
    conv = helper.make_graph(
        [helper.make_node("Conv", ["x", "k"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["y"], name="flat")],
        "conv", [helper.make_tensor_value_info("x", f, [1, 2, 4, 4])], [helper.make_tensor_value_info("y", f, [1, 12])],
        initializer=[numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "k")])
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [], [helper.make_tensor_value_info("t", f, [3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [helper.make_tensor_value_info("e", f, [3])])
    branch = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0), helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="if")],
        "branch", [helper.make_tensor_value_info("x", f, [3])], [helper.make_tensor_value_info("y", f, [3])],
        initializer=[numpy_helper.from_array(np.array(0, np.float32), "zero")])
    body = helper.make_graph(
        [helper.make_node("Add", ["acc", "x"], ["acc_out"]), helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("acc", f, [3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", f, [3])])
    loop = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "x"], ["y"], body=body, name="loop")],
        "loop", [helper.make_tensor_value_info("x", f, [3])], [helper.make_tensor_value_info("y", f, [3])],
        initializer=[numpy_helper.from_array(np.array(3, np.int64), "n")])
    return [helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8) for g in (mlp, conv, branch, loop)]


GSET = "4 4\n1 2 1\n2 3 -1\n3 4 1\n4 1 1\n"
BQM = {"vartype": "SPIN", "linear": {"a": 0.5, "b": -1}, "quadratic": [["a", "b", 1.0], ["b", "c", -0.5]], "offset": 0.0}

_HOSTILE_NUMBERS = [0, -1, 1, 2**31, 2**63 - 1, -(2**63), 10**12, 10**30, float("nan"), float("inf"), -float("inf"),
                    1.8e308, 1e-320, "1e999", "-0", "0x10", "", "abc", None, [1, [2, [3]]], {"a": 1}, True]


def _hostile(rng: random.Random) -> Any:
    return rng.choice(_HOSTILE_NUMBERS)


# -- case generation ---------------------------------------------------------------------------

@dataclass
class Case:
    family: str
    seed: int
    description: str
    files: dict[str, bytes]  # written into the case folder before it runs
    action: dict[str, Any]  # what to do with them


def make_case(seed: int, family: str | None = None) -> Case:
    rng = random.Random(seed)
    family = family or FAMILIES[seed % len(FAMILIES)]
    return {"onnx-bytes": _onnx_bytes, "onnx-fields": _onnx_fields, "artifact": _artifact, "options": _options,
            "problem": _problem}[family](rng, seed)


def _onnx_bytes(rng: random.Random, seed: int) -> Case:
    model = rng.choice(seed_models())
    data = bytearray(model.SerializeToString())
    kind = rng.choice(["flip", "truncate", "splice", "flips"])
    if kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "splice":
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    else:
        for _ in range(1 if kind == "flip" else rng.randrange(2, 20)):
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
    return Case("onnx-bytes", seed, f"{kind} of a {model.graph.name} model", {"model.onnx": bytes(data)},
                {"compile": "model.onnx", "target": "cpu", "run": True})


def _onnx_fields(rng: random.Random, seed: int) -> Case:
    import onnx
    from onnx import helper, numpy_helper

    model = rng.choice(seed_models())
    g = model.graph
    kind = rng.choice(["init_dims", "init_bytes", "external", "input_dim", "attr", "op_type", "domain", "nested_if",
                       "opset", "bias", "output_missing", "huge_const"])
    files: dict[str, bytes] = {}
    shapes = None
    if kind == "init_dims" and g.initializer:
        t = rng.choice(list(g.initializer))
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice([0, -1, 10**12, 2**62, 7])
        else:
            t.dims.append(rng.choice([0, 2, 10**12]))
    elif kind == "init_bytes" and g.initializer:
        t = rng.choice(list(g.initializer))
        t.raw_data = t.raw_data[: rng.randrange(max(1, len(t.raw_data)))] if t.raw_data else b"\x00" * 3
    elif kind == "external" and g.initializer:
        t = rng.choice(list(g.initializer))
        t.data_location = onnx.TensorProto.EXTERNAL
        t.ClearField("raw_data")
        for key, val in (("location", rng.choice(["../outside.bin", "/etc/passwd", "missing.bin", "w.bin", "a/../../x"])),
                         ("offset", str(rng.choice([0, 4, 10**15, -5]))), ("length", str(rng.choice([16, 0, 10**12])))):
            e = t.external_data.add()
            e.key, e.value = key, val
        files["w.bin"] = b"\x00" * 64
    elif kind == "input_dim":
        dim = g.input[0].type.tensor_type.shape.dim
        if dim:
            dim[rng.randrange(len(dim))].dim_value = rng.choice([0, 10**12, 2**62])
        shapes = {g.input[0].name: [rng.choice([1, 0, 10**20, -3]) for _ in range(rng.randrange(1, 5))]} if rng.random() < 0.3 else None
    elif kind == "attr" and g.node:
        node = rng.choice(list(g.node))
        node.attribute.append(helper.make_attribute(rng.choice(["axis", "kernel_shape", "strides", "pads", "alpha", "to", "zz"]),
                                                    rng.choice([2**62, -(2**62), [2**63 - 1, 1], [0, 0], 1e308, "x"])))
    elif kind == "op_type" and g.node:
        rng.choice(list(g.node)).op_type = rng.choice(["Conv", "NoSuchOp", "Loop", "If", "Scan", "", "Relu\x00"])
    elif kind == "domain" and g.node:
        rng.choice(list(g.node)).domain = rng.choice(["ai.onnx.ml", "com.microsoft", "x.y", "ai.onnx.preview.training"])
    elif kind == "nested_if":
        depth = rng.randrange(2, 25)  # protobuf itself refuses ~33 levels
        leaf = helper.make_graph([helper.make_node("Identity", [g.input[0].name], ["leaf"])], "leaf", [],
                                 [helper.make_tensor_value_info("leaf", 1, None)])
        inner = leaf
        for k in range(1, depth):  # each level holds the one below once (twice would double the size per level)
            inner = helper.make_graph([helper.make_node("If", ["c"], [f"o{k}"], then_branch=inner, else_branch=leaf)], f"g{k}", [],
                                      [helper.make_tensor_value_info(f"o{k}", 1, None)])
        g.node.extend([helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True))),
                       helper.make_node("If", ["c"], ["nested"], then_branch=inner, else_branch=leaf)])
        g.output.append(helper.make_tensor_value_info("nested", 1, None))
    elif kind == "opset":
        model.opset_import[0].version = rng.choice([0, 1, 5, 999, -1, 2**62])
    elif kind == "bias":
        g.node.append(helper.make_node("Gemm", [g.input[0].name, g.input[0].name, "bias_bad"], ["gemm_bad"]))
        g.initializer.append(numpy_helper.from_array(np.ones(rng.choice([5, 7]), np.float32), "bias_bad"))
        g.output.append(helper.make_tensor_value_info("gemm_bad", 1, None))
    elif kind == "output_missing":
        g.output.append(helper.make_tensor_value_info(rng.choice(["nope", "x", ""]), 1, None))
    elif kind == "huge_const":
        n = rng.choice([10**6, 10**9, 2**40])
        g.node.append(helper.make_node("ConstantOfShape", ["shape_c"], ["big"]))
        g.node.append(helper.make_node("ReduceSum", ["big"], ["big_sum"], keepdims=0))
        g.initializer.append(numpy_helper.from_array(np.array([n, n], np.int64), "shape_c"))
        g.output.append(helper.make_tensor_value_info("big_sum", 1, None))
    files["model.onnx"] = model.SerializeToString()
    return Case("onnx-fields", seed, f"{kind} in a {g.name} model", files,
                {"compile": "model.onnx", "target": "cpu", "run": True, "input_shapes": shapes})


def _artifact(rng: random.Random, seed: int) -> Case:
    kind = rng.choice(["truncate", "flip", "manifest", "npy_header", "member_name", "segment"])
    return Case("artifact", seed, f"{kind} of a compiled artifact", {}, {"artifact": kind, "rng": rng.randrange(2**32)})


def _options(rng: random.Random, seed: int) -> Case:
    from tsuc.targets.registry import get_target

    target = rng.choice(["cpu", "tfmbs", "tsu"])
    try:
        names = list(type(get_target(target)).options_class.declared()) + ["fallback"]
    except Exception:  # noqa: BLE001 - a target whose options cannot even be listed is found in the child
        names = ["fallback"]
    options = {rng.choice(names + ["nope"]): _hostile(rng) for _ in range(rng.randrange(1, 3))}
    params = {rng.choice(["reads", "sweeps", "seed", "time_limit", "tempering", "tfmbs.threads", "threads", "tsu.reads", "beta1", "zz"]): _hostile(rng)
              for _ in range(rng.randrange(0, 3))}
    model = "problem.txt" if target == "tsu" else "model.onnx"
    files = {"problem.txt": GSET.encode()} if target == "tsu" else {"model.onnx": seed_models()[0].SerializeToString()}
    return Case("options", seed, f"{target} options {options!r} params {params!r}", files,
                {"compile": model, "target": target, "options": options, "params": params, "run": True})


def _problem(rng: random.Random, seed: int) -> Case:
    if rng.random() < 0.5:
        kind = rng.choice(["header", "weight", "lines", "bytes", "index"])
        text = GSET
        if kind == "header":
            text = f"{rng.choice([10**12, 0, -1, 2**31, 'x', 5])} {rng.choice([10**12, 0, -1, 4, 'y'])}\n" + "".join(GSET.splitlines(True)[1:])
        elif kind == "weight":
            text = GSET.replace("-1", rng.choice(["1.8e308", "nan", "inf", "1e999", "-1.8e308", "0x1p1024"]))
        elif kind == "index":
            text = GSET.replace("3 4", rng.choice(["3 99999999999", "0 4", "-1 4", "3 3", "3 4.5"]))
        elif kind == "lines":
            text = GSET + "\n".join(f"{rng.randrange(1, 6)} {rng.randrange(1, 6)} 1" for _ in range(rng.randrange(1, 5)))
        data = text.encode()
        if kind == "bytes":
            data = bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.05 else b for b in data) + rng.choice([b"", b"\xff\xfe", b"\x00"])
        return Case("problem", seed, f"gset {kind}", {"problem.txt": data}, {"compile": "problem.txt", "target": "tsu", "run": True,
                                                                              "options": {"reads": 4, "sweeps": 10}})
    kind = rng.choice(["nested", "values", "labels", "bytes", "bigint"])
    obj: Any = json.loads(json.dumps(BQM))
    if kind == "nested":
        depth = rng.choice([50, 5000, 100000])
        text = "[" * depth + "]" * depth
        data = ('{"vartype": "SPIN", "linear": {}, "quadratic": ' + text + "}").encode()
    else:
        if kind == "values":
            obj[rng.choice(["linear", "quadratic", "offset", "vartype"])] = _hostile(rng)
        elif kind == "labels":
            obj["quadratic"].append([rng.choice(["\udcff", 10**40, -1, 1.5, None, "a"]), "b", 1])
        elif kind == "bigint":
            obj["offset"] = 10**400
        try:
            data = json.dumps(obj).encode()
        except (TypeError, ValueError):
            data = b"{"
        if kind == "bytes":
            data = data[: rng.randrange(len(data))] + b"\xff"
    return Case("problem", seed, f"bqm {kind}", {"problem.json": data}, {"compile": "problem.json", "target": "tsu", "run": True,
                                                                        "options": {"reads": 4, "sweeps": 10}})


# -- running one case (in the child) ------------------------------------------------------------

def _tamper_artifact(path: str, kind: str, rng: random.Random) -> None:
    """Tamper with a compiled artifact; for header and manifest edits the checksums are
    recomputed, so only the loader's own validation can catch them."""
    data = bytearray(open(path, "rb").read())
    if kind == "truncate":
        open(path, "wb").write(data[: rng.randrange(len(data))])
        return
    if kind == "flip":
        for _ in range(rng.randrange(1, 8)):
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
        open(path, "wb").write(data)
        return
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    manifest = json.loads(members.pop("manifest.json"))
    if kind == "manifest":
        field = rng.choice(["inputs", "outputs", "segments", "target", "members"])
        if field == "segments" and manifest["segments"]:
            seg = rng.choice(manifest["segments"])
            seg[rng.choice(list(seg))] = _hostile(rng)
        elif field in ("inputs", "outputs") and manifest[field]:
            entry = rng.choice(manifest[field])
            entry[rng.choice(["name", "dtype", "shape"])] = rng.choice([_hostile(rng), [10**30], [-5], "object", "<U3"])
        else:
            manifest[field] = _hostile(rng)
    elif kind == "segment" and manifest["segments"]:
        seg = rng.choice(manifest["segments"])
        config = seg.setdefault("config", {})
        if isinstance(config, dict) and config:
            config[rng.choice(list(config))] = _hostile(rng)
        else:
            seg["config"] = {"x": _hostile(rng)}
    elif kind == "npy_header":
        arrays = [n for n in members if n.endswith(".npy")]
        if arrays:
            name = rng.choice(arrays)
            header = rng.choice(["{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
                                 "{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }",
                                 "{'descr': '|V8', 'fortran_order': False, 'shape': (1,), }",
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000000000000000,), }",
                                 "{'descr': '<f4', 'fortran_order': False, 'shape': (-4, -1), }",
                                 "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                 "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                                 "{'descr': '<f4' 'fortran_order': False, 'shape': ((((1,),),),), }",
                                 "not a dict at all"])
            body = header.encode() + b" " * (-(10 + len(header) + 1) % 64) + b"\n"
            payload = members[name]
            old_len = struct.unpack("<H", payload[8:10])[0] if payload[6:7] == b"\x01" else 0
            members[name] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body + payload[10 + old_len:]
            entry = manifest["members"].get(name, {})
            try:
                descr = eval(header, {"__builtins__": {}})["descr"]  # noqa: S307 - our own literal
                entry["dtype"] = descr if isinstance(descr, str) else entry.get("dtype")
            except Exception:  # noqa: BLE001
                pass
    elif kind == "member_name":
        name = rng.choice(list(members)) if members else None
        if name is not None:
            new = rng.choice(["../evil.npy", "/abs.npy", "a//b", "weights/./x.npy", "C:x", "ok\\..\\x"])
            members[new] = members.pop(name)
            manifest["members"][new] = manifest["members"].pop(name)
    _write_raw(path, manifest, members)


def rewrite_artifact(path: str, edit: Any) -> None:
    """Apply `edit(manifest, members)` to an artifact and recompute every checksum and size."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    manifest = json.loads(members.pop("manifest.json"))
    edit(manifest, members)
    _write_raw(path, manifest, members)


def _write_raw(path: str, manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    """Write members and a manifest whose checksums are recomputed but whose other fields are kept."""
    import hashlib

    table = manifest.get("members") if isinstance(manifest.get("members"), dict) else None
    if table is not None:
        for name, payload in members.items():
            entry = table.get(name)
            if isinstance(entry, dict):
                entry["sha256"] = hashlib.sha256(payload).hexdigest()
                entry["size"] = len(payload)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, allow_nan=True))
        for name, payload in members.items():
            zf.writestr(name, payload)
    open(path, "wb").write(buf.getvalue())


def execute(case: Case, folder: str) -> None:
    """Run `case` inside `folder`; raises whatever tsuc raises."""
    import tsuc
    from tsuc.runtime import load

    for name, data in case.files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    act = case.action
    if "python" in act:  # the harness's own self-test: a case that crashes, hangs or escapes on purpose
        exec(act["python"], {})  # noqa: S102 - code written by the test, never by a generator
        return
    if "artifact" in act:
        rng = random.Random(act["rng"])
        out = os.path.join(folder, "m.tsuc")
        source = rng.choice(["cpu", "cpu", "tfmbs", "tsu"])
        if source == "tsu":  # a p-bit artifact: problem arrays, schedules, colourings to tamper with
            with open(os.path.join(folder, "p.txt"), "w") as f:
                f.write(GSET)
            tsuc.compile(os.path.join(folder, "p.txt"), target="tsu", output=out, options={"reads": 4, "sweeps": 10})
        else:
            tsuc.compile(rng.choice(seed_models()[:2] if source == "tfmbs" else seed_models()), target=source, output=out)
        _tamper_artifact(out, act["artifact"], rng)
        exe = load(out)
        exe.run(_random_feeds(exe))
        return
    out = os.path.join(folder, "out.tsuc")
    exe = tsuc.compile(os.path.join(folder, act["compile"]), target=act["target"], output=out, options=act.get("options"),
                       input_shapes=act.get("input_shapes"))
    if act.get("run"):
        exe.run(_random_feeds(exe), **(act.get("params") or {}))


def _random_feeds(exe: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for spec in exe.inputs:
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in spec.shape]
        if int(np.prod(shape, dtype=object)) > 1 << 24:
            from tsuc.errors import TsucError

            raise TsucError(f"input {spec.name!r} of shape {shape} is too large to feed")
        feeds[spec.name] = rng.random(shape).astype(spec.dtype) if spec.dtype.startswith("float") else np.zeros(shape, spec.dtype)
    return feeds


def child(case: Case, folder: str, conn: Any, memory: int) -> None:
    """Child process entry: limits, run, report (outcome, message) through `conn`."""
    import resource
    import warnings

    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    os.chdir(folder)
    from tsuc.errors import TsucError

    try:
        execute(case, folder)
        conn.send(("ok", ""))
    except TsucError as e:
        message = str(e)
        if "\n" in message.strip():
            conn.send(("crash", f"a TsucError of several lines: {message[:300]!r}"))
        else:
            conn.send(("ok", message[:300]))
    except BaseException as e:  # noqa: BLE001 - a crash is what this records
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{tb[-1].filename.split('site-packages/')[-1]}:{tb[-1].lineno}" if tb else "?"
        conn.send(("crash", f"{type(e).__name__} at {where}: {' '.join(str(e).split())[:200]}"))


@dataclass
class Outcome:
    seed: int
    family: str
    description: str
    result: str  # ok, crash, hang, escape
    message: str


def run_isolated(case: Case, sandbox: str, timeout: float = TIMEOUT_S, memory: int = MEMORY_LIMIT, ctx: Any = None) -> Outcome:
    """Run `case` in a child process in its own folder under `sandbox`; classify the result."""
    import multiprocessing as mp

    ctx = ctx or mp.get_context("forkserver")
    folder = tempfile.mkdtemp(prefix=f"case{case.seed}_", dir=sandbox)
    before = _listing(sandbox, folder)
    parent, kid = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(case, folder, kid, memory), daemon=True)
    proc.start()
    kid.close()
    result, message = "crash", "the child died without a report"
    if parent.poll(timeout):
        try:
            result, message = parent.recv()
        except EOFError:
            pass
    else:
        result, message = "hang", f"still running after {timeout:.0f} s"
    if proc.is_alive():
        proc.kill()
    proc.join(10)
    if result == "crash" and message == "the child died without a report":
        message += f" (exit code {proc.exitcode})"
    escaped = sorted(_listing(sandbox, folder) - before)
    if escaped:
        result, message = "escape", f"created {', '.join(escaped[:3])} outside the case folder"
    shutil.rmtree(folder, ignore_errors=True)
    return Outcome(case.seed, case.family, case.description, result, message)


def _listing(sandbox: str, own: str) -> set[str]:
    """Every file under the sandbox's parent folder except those in the case's own folder."""
    found = set()
    own = os.path.abspath(own)
    for dirpath, dirnames, filenames in os.walk(os.path.dirname(os.path.abspath(sandbox))):
        dirnames[:] = [d for d in dirnames if os.path.join(os.path.abspath(dirpath), d) != own]
        found.update(os.path.join(dirpath, f) for f in filenames)
    return found

"""The compile pipeline: frontend -> core passes -> partition -> target lowering -> artifact.

Stages, each of which `--emit` can stop after and print:
  core         the imported `onnx` dialect after shape inference, folding and dead-code removal
  partitioned  after `tsuc-partition`: target and host segments
  <target's>   each stage the target declares (`Target.emit_stages()`), e.g. tfmbs's `target`
               and `linalg`; targets without stages have one, `target`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from typing import Any

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.printer import Printer

from tsuc.compiler.artifact_writer import ArtifactBuilder
from tsuc.compiler.emit import emit_module, main_function
from tsuc.compiler.passes.constant_fold import ConstantFoldPass
from tsuc.compiler.passes.dce import DeadCodeRemovalPass
from tsuc.compiler.passes.host_legalize import HostLegalizePass
from tsuc.compiler.passes.partition import partition_module
from tsuc.compiler.passes.shape_inference import ShapeInferencePass
from tsuc.dialects.onnx import is_onnx_op, op_class
from tsuc.errors import TsucError
from tsuc.targets.base import Target
from tsuc.targets.registry import get_target

ONNX_EXTENSIONS = {".onnx"}
PROBLEM_EXTENSIONS = {".txt": "gset", ".gset": "gset", ".json": "bqm"}


def make_context() -> Context:
    """A context with every registered dialect loadable (for parsing and passes)."""
    from tsuc.compiler.universe import all_dialects

    ctx = Context(allow_unregistered=False)
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx


def print_ir(module: ModuleOp, debuginfo: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=debuginfo).print_op(module)
    return out.getvalue() + "\n"


def core_passes() -> list[ModulePass]:
    return [ShapeInferencePass(), ConstantFoldPass(), DeadCodeRemovalPass()]


def frontend(model: Any, target: Target, input_shapes: dict[str, list[int]] | None, example_inputs: Any,
             input_format: str | None) -> tuple[ModuleOp, str, dict[str, Any]]:
    """Import `model`; returns the module, its display name, and provenance."""
    from tsuc.compiler.frontends.onnx_import import import_model

    if type(model).__module__.startswith("torch") or _is_torch_module(model):
        from tsuc.compiler.frontends.torch_import import export_torch

        proto = export_torch(model, example_inputs)
        name = type(model).__name__
        return import_model(proto, input_shapes, where=name), name, {"source": name, "frontend": "torch.export"}
    if not isinstance(model, (str, os.PathLike)):
        module = target.import_object(model)
        if module is not None:
            name = getattr(model, "name", None) or type(model).__name__
            return module, name, {"source": name, "frontend": type(model).__name__}
    if hasattr(model, "graph") and hasattr(model, "opset_import"):
        return import_model(model, input_shapes, where="<ModelProto>"), "<ModelProto>", {"source": "<ModelProto>", "frontend": "onnx"}
    if not isinstance(model, (str, os.PathLike)):
        raise TsucError(f"target {target.name} cannot compile a {type(model).__name__} (give an ONNX path, ModelProto, torch module or problem file)")
    path = os.fspath(model)
    ext = os.path.splitext(path)[1].lower()
    fmt = input_format or ("onnx" if ext in ONNX_EXTENSIONS else PROBLEM_EXTENSIONS.get(ext))
    provenance = {"source": os.path.basename(path), "source_sha256": _file_sha256(path)}
    if fmt == "onnx":
        return import_model(path, input_shapes), path, provenance | {"frontend": "onnx"}
    readers = target.input_formats()
    if fmt is None or fmt not in readers:
        known = ["onnx"] + sorted(readers)
        what = f"format {fmt!r}" if fmt else f"extension {ext or '(none)'!r}"
        raise TsucError(f"{path}: target {target.name} cannot read {what} (formats: {', '.join(known)}; use --input-format)")
    if not os.path.isfile(path):
        raise TsucError(f"{path}: no such file")
    return readers[fmt](path, target), path, provenance | {"frontend": fmt}


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _file_sha256(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def materialize_outputs(module: ModuleOp) -> None:
    """Graph outputs that are inputs, constants or repeats get an Identity, so a segment makes them."""
    fn = main_function(module)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    seen = set()
    for k, v in enumerate(list(ret.operands)):
        owner = getattr(v, "owner", None)
        if v in seen or v in fn.body.block.args or (owner is not None and getattr(owner, "name", "") == "onnx.Constant"):
            ident = op_class("Identity").create(operands=[v], result_types=[v.type])
            fn.body.block.insert_op_before(ident, ret)
            ret.operands[k] = ident.results[0]
        seen.add(v)


def expose_all_values(module: ModuleOp) -> None:
    """Make every op result a graph output named `<node>#<k>` (for `tsuc verify --all-layers`)."""
    from xdsl.dialects.builtin import ArrayAttr, StringAttr

    from tsuc.compiler.frontends.onnx_import import OUTPUT_NAMES
    from tsuc.compiler.onnx_export import node_name

    fn = main_function(module)
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    existing = set(ret.operands)
    names = [a.data for a in fn.attributes[OUTPUT_NAMES].data]
    extra, extra_names = [], []
    for op in fn.body.block.ops:
        if is_onnx_op(op) and op.name != "onnx.Constant":
            for k, r in enumerate(op.results):
                if r not in existing:
                    extra.append(r)
                    extra_names.append(f"{node_name(op)}#{k}")
    new_ret = func.ReturnOp(*(list(ret.operands) + extra))
    fn.body.block.insert_op_before(new_ret, ret)
    ret.detach()
    ret.erase()
    fn.attributes[OUTPUT_NAMES] = ArrayAttr([StringAttr(n) for n in names + extra_names])
    fn.function_type = func.FunctionType.from_lists(list(fn.function_type.inputs.data), [v.type for v in new_ret.operands])


OP_COUNTS = "tsuc.op_counts"
NOTES = "tsuc.notes"


def record_fallback_notes(module: ModuleOp, target: Target) -> None:
    """Note every op of a kind the target accelerates that still lands on the host, and why."""
    from xdsl.dialects.builtin import ArrayAttr, StringAttr

    from tsuc.compiler.onnx_export import node_name

    if not target.accelerates:
        return
    notes = [f"{node_name(op) or op.name} ({op.name.split('.', 1)[-1]}) stays on the host: {target.unsupported_reason(op)}"
             for op in main_function(module).body.block.ops if op.name in target.accelerates and not target.supports(op)]
    if notes:
        module.attributes[NOTES] = ArrayAttr([StringAttr(n) for n in notes])


def record_op_counts(module: ModuleOp) -> None:
    """Remember each segment's core ops (before lowering) for the manifest's op statistics."""
    from collections import Counter

    from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, i64

    from tsuc.dialects.tsuc import SegmentOp

    for op in main_function(module).body.block.ops:
        if isinstance(op, SegmentOp):
            counts = Counter(o.name for o in op.body.block.ops if o.name not in ("onnx.Constant", "tsuc.yield"))
            op.attributes[OP_COUNTS] = DictionaryAttr({k: IntegerAttr(v, i64) for k, v in sorted(counts.items())})


def target_stages(target: Target) -> list[tuple[str, list[ModulePass]]]:
    stages = getattr(target, "emit_stages", None)
    if callable(stages):
        return list(stages().items())
    return [("target", target.pipeline())]


def lower(model: Any, target: Target, input_shapes: dict[str, list[int]] | None = None, example_inputs: Any = None,
          input_format: str | None = None, emit: str | None = None, expose_all: bool = False,
          debuginfo: bool = False) -> tuple[ModuleOp, str, dict[str, Any], str | None]:
    """Run the pipeline; returns (module, source name, provenance, printed IR if `emit` stopped it)."""
    ctx = make_context()
    module, name, provenance = frontend(model, target, input_shapes, example_inputs, input_format)
    is_model = any(is_onnx_op(op) for op in main_function(module).body.block.ops)
    stage_names = ["core", "partitioned"] + [s for s, _ in target_stages(target)]
    if emit is not None and emit not in stage_names:
        raise TsucError(f"--emit {emit!r} is not a stage of target {target.name} (stages: {', '.join(stage_names)})")
    if is_model:
        for p in core_passes():
            p.apply(ctx, module)
        if expose_all:
            expose_all_values(module)
        materialize_outputs(module)
    if emit == "core":
        return module, name, provenance, print_ir(module, debuginfo)
    if is_model:
        record_fallback_notes(module, target)
        partition_module(module, target)
        record_op_counts(module)
        HostLegalizePass().apply(ctx, module)
    if emit == "partitioned":
        return module, name, provenance, print_ir(module, debuginfo)
    for stage, passes in target_stages(target):
        for p in passes:
            p.apply(ctx, module)
        if emit == stage:
            view = getattr(target, "render_stage", None)  # a target's own text form of a stage (xla: HLO)
            text = view(stage, module) if callable(view) else None
            return module, name, provenance, text if text is not None else print_ir(module, debuginfo)
        if emit is None and stage == target.emit_after:
            break
    return module, name, provenance, None


def compile_model(model: Any, target: str | Target = "cpu", output: str | None = None, options: dict[str, Any] | None = None,
                  input_shapes: dict[str, list[int]] | None = None, example_inputs: Any = None,
                  input_format: str | None = None, expose_all: bool = False, command: str | None = None):
    """Compile and write an artifact; returns the loaded `Executable`."""
    from tsuc.runtime import load

    tgt = target if isinstance(target, Target) else get_target(target, options)
    module, _name, provenance, _ = lower(model, tgt, input_shapes, example_inputs, input_format, expose_all=expose_all)
    builder = ArtifactBuilder()
    graph = emit_module(module, tgt, builder)
    manifest = {
        "target": {"name": tgt.name, "options": tgt.values},
        "command": command or f"tsuc.compile(target={tgt.name!r})",
        "provenance": provenance,
    }
    manifest.update(graph)
    if NOTES in module.attributes:
        manifest["notes"] = [n.data for n in module.attributes[NOTES].data]  # type: ignore[attr-defined]
    if output is None:
        fd, path = tempfile.mkstemp(suffix=".tsuc")
        os.close(fd)
        try:
            builder.write(path, manifest)
            return load(path)
        finally:
            os.unlink(path)  # the loaded artifact keeps its mmap
    builder.write(output, manifest)
    return load(output)

"""The compile driver: frontend, then registered passes through xDSL's `PassPipeline`, then emission.

    import ──► core passes ──► [core] ──► lowering pipeline ──► [lowered] ──► emission
                                           tsuc-partition{targets=...}, tsuc-count-ops,
                                           tsuc-host-legalize  ──► [partitioned]
                                           each target's pipeline, in list order

Everything the driver does to the module is a registered pass (`compiler/universe.py`), and
the module is verified after every pass: a pass that leaves invalid IR is a compiler bug and
is reported as one. `lowering_pipeline()` is the pipeline string from `core` to `lowered`
(`tsuc compile --print-pipeline`); `tsuc opt -p "<it>"` on the printed core IR prints what
`--emit=lowered` prints, because the targets and their resolved options travel in the IR
(`tsuc-partition`'s argument, then each segment's `#tsuc.target<...>`).

Stages for `--emit`: `core`, `partitioned`, `lowered`, and the views the listed targets add
(e.g. tfmbs's `linalg`), which run after `lowered` and are never emitted into an artifact.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, VerifyException

from tsuc.compiler.artifact_writer import ArtifactBuilder
from tsuc.compiler.emit import emit_module, main_function
from tsuc.compiler.passes.partition import NOTES
from tsuc.compiler.resources import print_resources
from tsuc.compiler.verifier import IncrementalVerifier
from tsuc.dialects.onnx import is_onnx_op
from tsuc.errors import TsucError
from tsuc.targets.base import Target
from tsuc.targets.registry import resolve_targets

ONNX_EXTENSIONS = {".onnx"}
PROBLEM_EXTENSIONS = {".txt": "gset", ".gset": "gset", ".json": "bqm"}


def make_context() -> Context:
    """A context with every registered dialect loadable (for parsing and passes)."""
    from tsuc.compiler.universe import all_dialects

    ctx = Context(allow_unregistered=False)
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx


def print_ir(module: ModuleOp, debuginfo: bool = True, weights: bool = True) -> str:
    """The module as text: node names as `loc("...")` (unknown locations left out), and the
    weights it references in a `{-# dialect_resources #-}` section unless `weights` is False,
    so the text is self-describing and `tsuc opt` can continue from it."""
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=debuginfo).print_op(module)
    text = out.getvalue()
    if debuginfo:
        text = _UNKNOWN_LOC.sub("", text)
    if weights:
        text += print_resources(module, text)
    return text + "\n"


_UNKNOWN_LOC = re.compile(r" loc\(unknown\)")

CORE_PASSES = ("onnx-shape-inference", "onnx-constant-fold", "onnx-dce", "tsuc-materialize-outputs")
"""From the imported module to `core` (`tsuc-expose-values` is added for `verify --all-layers`)."""


def lowering_pipeline(targets: Sequence[Target], fallback: str = "host") -> list[str]:
    """The registered passes from `core` to `lowered`, as pass specs."""
    spec = ",".join(t.spec() for t in targets).replace("\\", "\\\\").replace('"', '\\"')
    passes = [f'tsuc-partition{{targets="{spec}" fallback={fallback}}}', "tsuc-count-ops", "tsuc-host-legalize"]
    for target in targets:
        passes.extend(target.pipeline())
    return passes


PARTITION_STEPS = 3  # the first three passes of `lowering_pipeline` make the `partitioned` stage


def stage_names(targets: Sequence[Target]) -> list[str]:
    names = ["core", "partitioned", "lowered"]
    for target in targets:
        for view in target.views():
            if view in names:
                raise TsucError(f"target {target.name} declares the stage {view!r}, which another stage already has")
            names.append(view)
    return names


def run_passes(ctx: Context, module: ModuleOp, specs: Sequence[str], verifier: IncrementalVerifier | None = None) -> None:
    """Parse `specs` against the universe and apply them, verifying the module after each pass
    (`verifier` remembers what it verified, so passes over one module share one)."""
    from tsuc.compiler.universe import all_passes

    if not specs:
        return
    callback = _verify_after if verifier is None else _verify_callback(verifier)
    try:
        pipeline = PassPipeline.parse_spec(all_passes(), ",".join(specs), callback=callback)
    except ValueError as e:
        raise TsucError(f"pass pipeline {','.join(specs)!r}: {e}") from None
    pipeline.apply(ctx, module)


def _verify_callback(verifier: IncrementalVerifier):
    def callback(previous: ModulePass | None, module: ModuleOp, _next: ModulePass | None) -> None:
        if previous is not None:
            _verified(previous, module, verifier.verify)
    return callback


def _verify_after(previous: ModulePass | None, module: ModuleOp, _next: ModulePass | None) -> None:
    if previous is not None:
        _verified(previous, module, ModuleOp.verify)


def _verified(previous: ModulePass, module: ModuleOp, verify) -> None:
    try:
        verify(module)
    except (VerifyException, DiagnosticException) as e:
        message = " ".join(str(e).split())[:800]
        raise TsucError(f"internal compiler error: pass {previous.name} left invalid IR ({message}); "
                        "please report this as a tsuc bug") from None


def frontend(model: Any, targets: Sequence[Target], input_shapes: dict[str, list[int]] | None, example_inputs: Any,
             input_format: str | None) -> tuple[ModuleOp, str, dict[str, Any]]:
    """Import `model`; returns the module, its display name, and provenance."""
    from tsuc.compiler.frontends.onnx_import import import_model

    names = ",".join(t.name for t in targets)
    if type(model).__module__.startswith("torch") or _is_torch_module(model):
        from tsuc.compiler.frontends.torch_import import export_torch

        proto = export_torch(model, example_inputs)
        name = type(model).__name__
        return import_model(proto, input_shapes, where=name), name, {"source": name, "frontend": "torch.export"}
    if not isinstance(model, (str, os.PathLike)):
        for target in targets:
            module = target.import_object(model)
            if module is not None:
                name = getattr(model, "name", None) or type(model).__name__
                return module, name, {"source": name, "frontend": type(model).__name__}
    if hasattr(model, "graph") and hasattr(model, "opset_import"):
        return import_model(model, input_shapes, where="<ModelProto>"), "<ModelProto>", {"source": "<ModelProto>", "frontend": "onnx"}
    if not isinstance(model, (str, os.PathLike)):
        raise TsucError(f"target {names} cannot compile a {type(model).__name__} (give an ONNX path, ModelProto, torch module or problem file)")
    path = os.fspath(model)
    ext = os.path.splitext(path)[1].lower()
    fmt = input_format or ("onnx" if ext in ONNX_EXTENSIONS else PROBLEM_EXTENSIONS.get(ext))
    if fmt == "onnx":  # hashing (which releases the GIL) overlaps the import
        digest = _Sha256(path)
        module = import_model(path, input_shapes)
        return module, path, {"source": os.path.basename(path), "source_sha256": digest.result(), "frontend": "onnx"}
    provenance = {"source": os.path.basename(path), "source_sha256": _file_sha256(path)}
    for target in targets:
        reader = target.input_formats().get(fmt) if fmt else None
        if reader is not None:
            if not os.path.isfile(path):
                raise TsucError(f"{path}: no such file")
            return reader(path, target), path, provenance | {"frontend": fmt}
    known = ["onnx"] + sorted({f for t in targets for f in t.input_formats()})
    what = f"format {fmt!r}" if fmt else f"extension {ext or '(none)'!r}"
    raise TsucError(f"{path}: target {names} cannot read {what} (formats: {', '.join(known)}; use --input-format)")


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _file_sha256(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 23), b""):
            h.update(chunk)
    return h.hexdigest()


class _Sha256:
    """`_file_sha256(path)` computed on a background thread; `result()` waits for it."""

    def __init__(self, path: str) -> None:
        import threading

        self._path = path
        self._value: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tsuc-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = _file_sha256(self._path)
        except BaseException as e:  # noqa: BLE001 - handed to result()
            self._error = e

    def result(self) -> str | None:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def lower(model: Any, targets: Sequence[Target], input_shapes: dict[str, list[int]] | None = None, example_inputs: Any = None,
          input_format: str | None = None, emit: str | None = None, expose_all: bool = False, fallback: str = "host",
          debuginfo: bool = True, weights: bool = True) -> tuple[ModuleOp, str, dict[str, Any], str | None]:
    """Import and run the pipeline; returns (module, source name, provenance, printed IR if
    `emit` named the stage to stop after)."""
    stages = stage_names(targets)
    if emit is not None and emit not in stages:
        names = ",".join(t.name for t in targets)
        raise TsucError(f"--emit {emit!r} is not a stage of target {names} (stages: {', '.join(stages)})")
    ctx = make_context()
    module, name, provenance = frontend(model, targets, input_shapes, example_inputs, input_format)
    is_model = any(is_onnx_op(op) or op.name == "onnxnode.node" for op in main_function(module).body.block.ops)

    def stop(stage: str) -> str | None:
        return print_ir(module, debuginfo, weights) if emit == stage else None

    verifier = IncrementalVerifier()
    if is_model:
        run_passes(ctx, module, CORE_PASSES + (("tsuc-expose-values",) if expose_all else ()), verifier)
    if (text := stop("core")) is not None:
        return module, name, provenance, text
    pipeline = lowering_pipeline(targets, fallback)
    run_passes(ctx, module, pipeline[:PARTITION_STEPS], verifier)
    if (text := stop("partitioned")) is not None:
        return module, name, provenance, text
    run_passes(ctx, module, pipeline[PARTITION_STEPS:], verifier)
    if (text := stop("lowered")) is not None:
        return module, name, provenance, text
    for target in targets:
        for view, passes in target.views().items():
            if emit == view:
                run_passes(ctx, module, passes, verifier)
                text = target.render(view, module, weights)
                return module, name, provenance, text if text is not None else stop(view)
    return module, name, provenance, None


def compile_model(model: Any, target: Any = "cpu", output: str | None = None, options: dict[str, Any] | None = None,
                  input_shapes: dict[str, list[int]] | None = None, example_inputs: Any = None,
                  input_format: str | None = None, expose_all: bool = False, command: str | None = None,
                  warm: bool = True):
    """Compile and write an artifact; returns the loaded `Executable` (`warm`: prepared to
    run, see `tsuc.runtime.load`).

    `target`: a name, `"tfmbs,tsu"`, `"tfmbs{w_planes=2},tsu"`, a list of those or `Target`s.
    `options`: `{"tfmbs.w_planes": 2, "reads": 20, "fallback": "error"}` (bare keys when one
    listed target has them)."""
    from tsuc.runtime import load

    targets, compile_opts = resolve_targets(target, options)
    module, _name, provenance, _ = lower(model, targets, input_shapes, example_inputs, input_format, expose_all=expose_all,
                                        fallback=compile_opts["fallback"])
    builder = ArtifactBuilder()
    graph = emit_module(module, targets, builder)
    names = ",".join(t.name for t in targets)
    manifest = {
        "targets": [{"name": t.name, "options": t.values} for t in targets],
        "compile_options": compile_opts,
        "command": command or f"tsuc.compile(target={names!r})",
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
            return load(path, warm=warm)
        finally:
            os.unlink(path)  # the loaded artifact keeps its mmap
    builder.write(output, manifest)
    return load(output, warm=warm)

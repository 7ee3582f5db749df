"""`tsuc verify`: compile a model, run it, compare with onnxruntime on the original file.

With `--all-layers` the model is compiled with every intermediate tensor exposed as an output
(`<node>#<k>`), onnxruntime runs the original with the same tensors added as outputs, and the
nodes are compared in graph order so the report names the first node that diverges.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx



@dataclass
class VerifyReport:
    ok: bool = True
    failure: str = ""
    lines: list[str] = field(default_factory=list)


def compare(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> tuple[bool, str]:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False, f"{name}: shape {got.shape} != reference {want.shape}"
    if got.dtype.kind in "fc" or want.dtype.kind in "fc":
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        bad = diff > atol + rtol * np.abs(want.astype(np.float64))
        worst = float(diff.max()) if diff.size else 0.0
        if bad.any():
            return False, f"{name}: {int(bad.sum())} of {bad.size} elements differ (max abs diff {worst:.3g})"
        return True, f"{name}: ok (max abs diff {worst:.3g})"
    equal = np.array_equal(got, want)
    return equal, f"{name}: {'ok (exact)' if equal else 'values differ'}"


def reference_session(model: onnx.ModelProto, extra_outputs: list[str] | None = None):
    import onnxruntime as ort

    if extra_outputs:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        have = {o.name for o in model.graph.output}
        for name in extra_outputs:
            if name not in have:
                model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def verify_model(path: str, target: str, options: dict[str, Any], input_shapes: dict[str, list[int]],
                 inputs: dict[str, np.ndarray], seed: int, rtol: float, atol: float, all_layers: bool) -> VerifyReport:
    from tsuc.compiler.driver import compile_model
    from tsuc.compiler.frontends.onnx_import import load_onnx, prepare
    from tsuc.runtime.inputs import make_random_inputs

    exe = compile_model(path, target=target, options=options, input_shapes=input_shapes, expose_all=all_layers)
    feeds = {**make_random_inputs(exe.inputs, seed), **inputs}
    outs = exe.run(feeds)
    original = load_onnx(path)
    report = VerifyReport()
    graph_outputs = [o.name for o in original.graph.output]
    if not all_layers:
        sess = reference_session(original)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {k: feeds[k] for k in (i.name for i in sess.get_inputs())})))
        for name in graph_outputs:
            ok, line = compare(name, outs[name], ref[name], rtol, atol)
            report.lines.append(line)
            if not ok and report.ok:
                report.ok, report.failure = False, f"{os.path.basename(path)} on target {target}: output {line}"
        if report.ok:
            report.lines.append(f"{os.path.basename(path)}: {len(graph_outputs)} output(s) match onnxruntime (rtol {rtol}, atol {atol})")
        else:  # say where it starts: the same check on every intermediate tensor
            layers = verify_model(path, target, options, input_shapes, inputs, seed, rtol, atol, True)
            if not layers.ok and "first divergence" in layers.failure:
                report.failure += "; " + layers.failure.split(": ", 1)[1]
        return report
    # every intermediate: map `<node>#<k>` back to the node's output tensor names
    converted = prepare(original, path, input_shapes)
    by_label = {}
    for index, node in enumerate(converted.graph.node):
        by_label[node.name or f"{node.op_type}_{index}"] = (index, node)
    pairs = []
    for name in outs:
        label, sep, k = name.rpartition("#")
        if sep and label in by_label and k.isdigit():
            index, node = by_label[label]
            if int(k) < len(node.output) and node.output[int(k)]:
                pairs.append((index, label, node.op_type, name, node.output[int(k)]))
    pairs.sort()
    sess = reference_session(converted, [p[4] for p in pairs])
    names = [o.name for o in sess.get_outputs()]
    ref = dict(zip(names, sess.run(None, {k: feeds[k] for k in (i.name for i in sess.get_inputs())})))
    for _index, label, op_type, ours, theirs in pairs:
        ok, line = compare(f"{label} ({op_type}) -> {theirs}", outs[ours], ref[theirs], rtol, atol)
        if not ok:
            report.ok = False
            report.failure = f"{os.path.basename(path)} on target {target}: first divergence at node {label!r} ({op_type}): {line}"
            report.lines.append(line)
            return report
    report.lines.append(f"{os.path.basename(path)}: all {len(pairs)} intermediate tensors match onnxruntime (rtol {rtol}, atol {atol})")
    return report


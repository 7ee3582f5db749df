"""Fusing consecutive fabric and host segments into one onnxruntime graph (compile time).

A partitioned ResNet alternates fabric segments (every Conv/Gemm) with host segments (Add,
Relu, MaxPool, ...): run one by one that is ~100 session calls with numpy work between. This
pass, run on the emitted segment list, replaces every maximal run of consecutive `tfmbs` and
host segments (at least one of them `tfmbs`) by ONE `tfmbs` segment whose config carries:

- `fused.model`: an ONNX graph computing the whole run. Host segments' nodes are copied in
  (internal names prefixed by their part), and each fabric layer becomes integer graph ops
  that follow the formula of `tsuc.runtime.tfmbs.actquant` bit for bit:

      m = ReduceMax(Abs(x)); s0 = float64(m) / L; s = s0 > 0 ? s0 : 1
      q = int8(Round(float64(x) / s))                     (Round: half to even, like np.rint)
      Q = ConvInteger / MatMulInteger(q, trits + 1 as uint8, zero points 0 and 1)
          every weight plane stacked along the output channels: one product serves all
      y = float32((sum_p float64(Q_p) * ws_p) * s (* alpha) + bias)   in float64 graph ops
      y = Max(Add(y, residual), 0)    a folded residual Add / Relu (`post`, option fold), float32

  Layers whose accumulators can wrap (`acc_bits` below K) multiply trit plane by trit plane
  and wrap each product as integer graph ops, as `fastrun.run_wrapped` does. Each layer also
  outputs its levels `q` (fetched only by the lazy profile) and the scales of every layer
  come out as one float64 vector (the runtime raises on a non-finite one; a NaN anywhere in
  x makes its entry NaN through a sum, since ReduceMax skips NaN).
- `fused.parts`: the original segment entries, unchanged, so the per-layer paths (replay,
  BLAS products) still run them one by one, and the profile has every fabric layer.

The weights are not stored twice: the graph declares each layer's uint8 weight tensor as an
external initializer that the runtime fills from the layer's PT-5 stream at load time. Host
weights stay the shared `.npy` members they already are.

A run is not fused (left as it was) when a layer's levels do not fit in 8 bits
(act_trits > 5), when act_trits = 1 (its scale is a float64 mean whose summation order
onnxruntime does not reproduce), when a host node carries a subgraph, when the parts
disagree on opsets or machines, or when the option `fuse` is off.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tsuc.runtime.tfmbs import actquant, fastpath
from tsuc.runtime.tfmbs.fused import (
    FUSED_VERSION,
    SCALES_OUTPUT,
    levels_output,
    weight_name,
)
from tsuc.runtime.tfmbs.layer import CONFIG_VERSION
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import LayerPlan
from tsuc.targets.tfmbs.emit import external_initializer

EXACT_F32 = 1 << 24
MIN_OPSET = 13  # Round (11), Slice/Reshape with inputs, integer Mod; the host parts' own opset if higher


class _NotFusable(Exception):
    """A part that the fused graph cannot express (the run is split there)."""


def fuse_segments(segments: list[dict[str, Any]], builder: Any, graph_outputs: list[str]) -> list[dict[str, Any]]:
    """The segment list with every fusable run of tfmbs and host segments replaced by one."""
    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    index = 0

    def flush(later: list[dict[str, Any]]) -> None:
        nonlocal index
        if any(p["kind"] == "tfmbs" for p in run) and len(run) > 1 or (len(run) == 1 and run[0]["kind"] == "tfmbs"):
            needed = set(graph_outputs) | {v for s in later for v in s["inputs"]}
            try:
                fused = _fuse(list(run), builder, needed, _fresh_name(segments, index))
            except _NotFusable:
                fused = None
            if fused is not None:
                out.append(fused)
                index += 1
                run.clear()
                return
        out.extend(run)
        run.clear()

    for k, seg in enumerate(segments):
        if _joinable(seg, builder):
            if run and seg["kind"] == "tfmbs" and run[0]["kind"] == "tfmbs" and not _same_machine(run, seg):
                flush(segments[k:])
            run.append(seg)
        else:
            flush(segments[k:])
            out.append(seg)
    flush([])
    return out


def _fresh_name(segments: list[dict[str, Any]], index: int) -> str:
    taken = {s["name"] for s in segments}
    name = f"tfmbs_fused{index}"
    while name in taken:
        name += "_"
    return name


def _joinable(seg: dict[str, Any], builder: Any) -> bool:
    if seg.get("target") == "host" and seg.get("kind") == "onnx" and "model" in seg.get("members", {}):
        return True
    if seg.get("kind") != "tfmbs" or not seg.get("config", {}).get("fuse", False):
        return False
    for e in seg["config"]["layers"]:
        at = int(e["plan"]["act_trits"])
        if at == 1 or not fastpath.int8_levels_fit(at) or not fastpath.int8_exact(int(e["plan"]["k"])):
            return False
    return True


def _same_machine(run: list[dict[str, Any]], seg: dict[str, Any]) -> bool:
    first = next(p for p in run if p["kind"] == "tfmbs")
    return first["config"]["machine"] == seg["config"]["machine"]


# -- building the graph ---------------------------------------------------------------------------


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.elem: dict[str, int] = {}  # tensor name -> ONNX element type, where known
        self.info: dict[str, onnx.ValueInfoProto] = {}  # boundary value infos of host parts
        self.opsets: dict[str, int] = {}
        self.ir_version = 8

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _fuse(parts: list[dict[str, Any]], builder: Any, needed: set[str], name: str) -> dict[str, Any] | None:
    g = _Graph()
    produced: set[str] = set()
    consumed: list[str] = []
    weights: list[dict[str, Any]] = []
    host_weights: dict[str, str] = {}
    layer_count = 0
    machine = None
    for k, part in enumerate(parts):
        for v in part["inputs"]:
            if v not in produced and v not in consumed:
                consumed.append(v)
        if part["kind"] == "onnx":
            _add_host(g, k, part, builder, host_weights)
        else:
            machine = part["config"]["machine"]
            layer_count = _add_fabric(g, k, part, builder, weights, layer_count)
        produced.update(part["outputs"])
    opset = max(MIN_OPSET, g.opsets.get("", MIN_OPSET))
    g.opsets[""] = opset
    scales = [f"p{k}/L{i}.s0" for k, part in enumerate(parts) if part["kind"] == "tfmbs"
              for i in range(len(part["config"]["layers"]))]
    shape1 = g.const("fused/shape1", np.array([1], np.int64))
    g.node("Concat", [g.node("Reshape", [s, shape1], f"{s}.1") for s in scales], SCALES_OUTPUT, axis=0)

    inputs = []
    for v in consumed:
        if v in g.info:
            inputs.append(g.info[v])
        else:  # read by fabric layers only
            inputs.append(helper.make_tensor_value_info(v, TensorProto.FLOAT, None))
    outputs_names = [v for p in parts for v in p["outputs"] if v in needed]
    outputs = [helper.make_tensor_value_info(v, g.elem.get(v, TensorProto.FLOAT), None) for v in outputs_names]
    outputs.append(helper.make_tensor_value_info(SCALES_OUTPUT, TensorProto.DOUBLE, [len(scales)]))
    levels = [levels_output(k, i) for k, part in enumerate(parts) if part["kind"] == "tfmbs"
              for i in range(len(part["config"]["layers"]))]
    outputs += [helper.make_tensor_value_info(q, TensorProto.INT8, None) for q in levels]
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(g.opsets.items())],
                              ir_version=g.ir_version, producer_name="tsuc")
    member = builder.add_bytes(f"segments/{name}/model.onnx", model.SerializeToString())
    members = {"fused.model": member}
    for k, part in enumerate(parts):
        for role, m in part.get("members", {}).items():
            members[f"p{k}/{role}"] = m
    ops: dict[str, int] = {}
    for part in parts:
        for op, n in part.get("ops", {}).items():
            ops[op] = ops.get(op, 0) + n
    return {
        "name": name, "target": "tfmbs", "kind": "tfmbs",
        "inputs": consumed, "outputs": outputs_names, "members": members, "ops": ops,
        "config": {
            "version": CONFIG_VERSION,
            "machine": machine,
            "encoding": next(p["config"]["encoding"] for p in parts if p["kind"] == "tfmbs"),
            # every fabric layer of the parts, for readers of the manifest (inspect, tools); the
            # executor loads and checks them through `parts`, where their inputs are named
            "layers": [e for p in parts if p["kind"] == "tfmbs" for e in p["config"]["layers"]],
            "fused": {
                "version": FUSED_VERSION,
                "model": "fused.model",
                "outputs": outputs_names,
                "weights": weights,
                "host_weights": host_weights,
                "parts": parts,
            },
        },
    }


def _add_host(g: _Graph, k: int, part: dict[str, Any], builder: Any, host_weights: dict[str, str]) -> None:
    model = onnx.load_from_string(builder.member_bytes(part["members"]["model"]))
    graph = model.graph
    for imp in model.opset_import:
        domain = "" if imp.domain == "ai.onnx" else imp.domain
        if domain in g.opsets and g.opsets[domain] != imp.version:
            raise _NotFusable(f"host parts import opset {domain!r} in versions {g.opsets[domain]} and {imp.version}")
        g.opsets[domain] = imp.version
    g.ir_version = max(g.ir_version, model.ir_version)
    keep = set(part["inputs"]) | set(part["outputs"])

    def rename(n: str) -> str:
        return n if not n or n in keep else f"p{k}/{n}"

    for node in graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise _NotFusable(f"host node {node.name!r} carries a subgraph")
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = f"p{k}/{node.name or node.output[0]}"
        new.input[:] = [rename(n) for n in node.input]
        new.output[:] = [rename(n) for n in node.output]
        g.nodes.append(new)
    external = part.get("config", {}).get("initializers", {})
    for init in graph.initializer:
        new = TensorProto()
        new.CopyFrom(init)
        new.name = rename(init.name)
        g.inits.append(new)
        if init.name in external:
            host_weights[new.name] = external[init.name]
    for vi in list(graph.input) + list(graph.output):
        g.info.setdefault(vi.name, vi)
        g.elem[vi.name] = vi.type.tensor_type.elem_type


def _add_fabric(g: _Graph, k: int, part: dict[str, Any], builder: Any, weights: list[dict[str, Any]], count: int) -> int:
    config = part["config"]
    cfg = FabricConfig.from_dict(config["machine"])
    names = {f"arg{i}": v for i, v in enumerate(part["inputs"])}
    outs = {}
    for j, src in enumerate(config["outputs"]):
        outs.setdefault(src, part["outputs"][j])
    for i, e in enumerate(config["layers"]):
        tag = f"L{i}"
        x = names[e["input"]]
        if g.elem.get(x, TensorProto.FLOAT) != TensorProto.FLOAT:
            x = g.node("Cast", [x], f"p{k}/{tag}.x32", to=TensorProto.FLOAT)
        y = outs.get(tag, f"p{k}/{tag}")
        scales = np.asarray(_array(builder, e["members"]["scales"]), np.float32)
        bias = np.asarray(_array(builder, e["members"]["bias"]), np.float32)
        post = e.get("post")
        y_layer = f"p{k}/{tag}.combined" if post else y
        _layer(g, f"p{k}/{tag}", x, y_layer, e, LayerPlan.from_json(e["plan"]), cfg, scales, bias, levels_output(k, i))
        if post:
            _post(g, f"p{k}/{tag}", y_layer, y, names[post["residual"]] if post["residual"] is not None else None,
                  bool(post["relu"]))
        weights.append({"name": weight_name(k, i), "part": k, "layer": i})
        g.elem[y] = TensorProto.FLOAT
        names[tag] = y
    for j, src in enumerate(config["outputs"]):  # a layer yielded under two names
        if outs[src] != part["outputs"][j]:
            g.node("Identity", [names[src]], part["outputs"][j])
            g.elem[part["outputs"][j]] = TensorProto.FLOAT
    return count + len(config["layers"])


def _array(builder: Any, member: str) -> np.ndarray:
    import io

    return np.load(io.BytesIO(builder.member_bytes(member)), allow_pickle=False)


def _layer(g: _Graph, pre: str, x: str, y: str, e: dict[str, Any], plan: LayerPlan, cfg: FabricConfig,
           scales: np.ndarray, bias: np.ndarray, q_name: str) -> None:
    """The nodes of one fabric layer, x (float32) -> y (float32); see the module docstring."""
    conv = e.get("conv")
    P, N = plan.w_planes, plan.n
    L = actquant.levels(plan.act_trits)
    # -- levels
    a = g.node("Abs", [x], f"{pre}.abs")
    m = g.node("ReduceMax", [a], f"{pre}.max", keepdims=0)
    total = g.node("ReduceSum", [a], f"{pre}.sum", keepdims=0)  # NaN iff x holds a NaN (ReduceMax skips NaN)
    s_raw = g.node("Div", [g.node("Cast", [m], f"{pre}.max64", to=TensorProto.DOUBLE), g.const(f"{pre}.L", np.float64(L))],
                   f"{pre}.sraw")
    g.node("Where", [g.node("IsNaN", [total], f"{pre}.nan"), g.node("Cast", [total], f"{pre}.sum64", to=TensorProto.DOUBLE),
                     s_raw], f"{pre}.s0")
    zero, one = g.const(f"{pre}.zero", np.float64(0.0)), g.const(f"{pre}.one", np.float64(1.0))
    s = g.node("Where", [g.node("Greater", [s_raw, zero], f"{pre}.pos"), s_raw, one], f"{pre}.s")
    x64 = g.node("Cast", [x], f"{pre}.x64", to=TensorProto.DOUBLE)
    r = g.node("Round", [g.node("Div", [x64, s], f"{pre}.div")], f"{pre}.round")
    q = g.node("Cast", [r], q_name, to=TensorProto.INT8)  # |q| <= L <= 121 (see fastpath.levels_i8)
    # -- products
    w = weight_name_of(pre)
    g.inits.append(external_initializer(w, (P * N, *_conv_wshape(e)) if conv else (plan.k, P * N), TensorProto.UINT8))
    x_zero = g.const(f"{pre}.xz", np.int8(0))
    w_zero = g.const(f"{pre}.wz", np.uint8(1))

    def product(levels: str, out: str) -> str:
        if conv:
            return g.node("ConvInteger", [levels, w, x_zero, w_zero], out, kernel_shape=conv["kernel_shape"],
                          strides=conv["strides"], pads=conv["pads"], dilations=conv["dilations"])
        return g.node("MatMulInteger", [levels, w, x_zero, w_zero], out)

    axis = 1 if conv else -1
    exact_f32 = not plan.may_overflow(cfg) and plan.k * L < EXACT_F32
    if plan.may_overflow(cfg):
        Q = _wrapped_products(g, pre, q, plan, cfg, product)
    else:
        Q = product(q, f"{pre}.Q")
    # -- epilogue, float64 in the formula's order
    def plane(p: int) -> str:
        qp = Q
        if P > 1:
            qp = g.node("Slice", [Q, g.const(f"{pre}.b{p}", np.array([p * N], np.int64)),
                                  g.const(f"{pre}.e{p}", np.array([(p + 1) * N], np.int64)),
                                  g.const(f"{pre}.ax", np.array([axis], np.int64)) if p == 0 else f"{pre}.ax"], f"{pre}.Q{p}")
        ws = scales[p].astype(np.float64).reshape((N, 1, 1) if conv else (N,))
        if exact_f32:  # |Q| < 2^24: int32 -> float32 -> float64 is exact, and cheaper than int32 -> float64 in onnxruntime
            qp = g.node("Cast", [qp], f"{pre}.Q{p}f32", to=TensorProto.FLOAT)
        return g.node("Mul", [g.node("Cast", [qp], f"{pre}.Q{p}f", to=TensorProto.DOUBLE), g.const(f"{pre}.ws{p}", ws)],
                      f"{pre}.t{p}")

    acc = plane(0)
    if fastpath.has_negative_zero(bias):
        acc = g.node("Add", [acc, zero], f"{pre}.z")
    for p in range(1, P):
        acc = g.node("Add", [acc, plane(p)], f"{pre}.y{p}")
    acc = g.node("Mul", [acc, s], f"{pre}.ys")
    alpha = float(e["alpha"])
    if alpha != 1.0:
        acc = g.node("Mul", [acc, g.const(f"{pre}.alpha", np.float64(alpha))], f"{pre}.ya")
    b = bias.astype(np.float64).reshape((N, 1, 1) if conv else (N,))
    acc = g.node("Add", [acc, g.const(f"{pre}.bias", b)], f"{pre}.yb")
    g.node("Cast", [acc], y, to=TensorProto.FLOAT)


def _post(g: _Graph, pre: str, y_layer: str, y: str, residual: str | None, relu: bool) -> None:
    """The folded epilogue (`Layer.apply_post`): float32 Add of the residual, then Max with a
    float32 0 (Max, not Relu: onnxruntime's Relu keeps -0.0, np.maximum and Max give +0.0)."""
    v = y_layer
    if residual is not None:
        if g.elem.get(residual, TensorProto.FLOAT) != TensorProto.FLOAT:
            residual = g.node("Cast", [residual], f"{pre}.res32", to=TensorProto.FLOAT)
        v = g.node("Add", [v, residual], y if not relu else f"{pre}.res")
    if relu:
        g.node("Max", [v, g.const(f"{pre}.relu0", np.float32(0.0))], y)


def _wrapped_products(g: _Graph, pre: str, q: str, plan: LayerPlan, cfg: FabricConfig, product) -> str:
    """Q = sum_j 3^j wrap(W @ t_j) in int64: trit plane by trit plane, each accumulator wrapped
    to `acc_bits` (two's complement), as the fabric's chained frames leave it."""
    lo, hi = cfg.acc_range
    rest = g.node("Cast", [q], f"{pre}.r0", to=TensorProto.INT32)
    one, three = g.const(f"{pre}.i1", np.int32(1)), g.const(f"{pre}.i3", np.int32(3))
    lo_c, span = g.const(f"{pre}.lo", np.int32(lo)), g.const(f"{pre}.span", np.int64(hi - lo + 1))
    lo64 = g.const(f"{pre}.lo64", np.int64(lo))
    total = None
    for j in range(plan.act_trits):
        t = g.node("Sub", [g.node("Mod", [g.node("Add", [rest, one], f"{pre}.r{j}+1"), three], f"{pre}.m{j}", fmod=0), one],
                   f"{pre}.trit{j}")
        if j + 1 < plan.act_trits:
            rest = g.node("Div", [g.node("Sub", [rest, t], f"{pre}.d{j}"), three], f"{pre}.r{j + 1}")  # exact
        acc = product(g.node("Cast", [t], f"{pre}.t{j}i8", to=TensorProto.INT8), f"{pre}.acc{j}")
        shifted = g.node("Cast", [g.node("Sub", [acc, lo_c], f"{pre}.a{j}-lo")], f"{pre}.a{j}64", to=TensorProto.INT64)
        wrapped = g.node("Add", [g.node("Mod", [shifted, span], f"{pre}.w{j}m", fmod=0), lo64], f"{pre}.w{j}")
        term = g.node("Mul", [wrapped, g.const(f"{pre}.p3_{j}", np.int64(3 ** j))], f"{pre}.term{j}")
        total = term if total is None else g.node("Add", [total, term], f"{pre}.sum{j}")
    return total  # type: ignore[return-value]


def weight_name_of(pre: str) -> str:
    k, tag = pre.split("/")
    return weight_name(int(k[1:]), int(tag[1:]))


def _conv_wshape(e: dict[str, Any]) -> tuple[int, ...]:
    c = e["in_shape"][1]
    return (c, *e["conv"]["kernel_shape"])

"""`torch.compile(model, backend="tsuc", options={"target": "tfmbs", "w_planes": 2})`.

Registered with torch through the `torch_dynamo_backends` entry point (pyproject.toml), so
`backend="tsuc"` works as soon as tsuc is installed, without importing it first.

How a captured graph runs:

1. Dynamo hands over an FX `GraphModule` and its example inputs. Parameters and buffers of
   the traced modules arrive as graph inputs (dynamo lifts them); they are the model's
   weights, so they are baked into the exported graph as constants (the fabric needs
   constant weights) and are not passed at run time.
2. On a call, the concrete shapes of the tensor arguments (and the values of any `SymInt`
   arguments dynamo passes for dynamic dimensions) pick a compiled artifact: the graph is
   specialised to them, exported with `torch.onnx.export(..., dynamo=True)`, compiled by
   tsuc and loaded. So static graphs compile once, and dynamic graphs (`dynamic=True`, or
   dynamo's automatic dynamic shapes after a shape change) compile once per shape seen,
   which is what a target with fixed frame sizes needs.
3. Compiled artifacts are cached in this process (and on disk under `cache_dir` when
   given), keyed on the graph's code, the constants' bytes, the argument shapes/dtypes and
   the options, so a second `torch.compile` of the same model, or dynamo re-entering a
   graph it has seen, does not compile again.
4. The artifact runs through the runtime: torch tensors in through DLPack, numpy outputs
   back through `torch.from_numpy` (neither side copies contiguous CPU tensors).

Graph breaks give dynamo several graphs; each is compiled on its own. A tsuc error raises
`TsucBackendError` (a `TsucError`) naming the FX node the failing ONNX node came from.
Outputs carry no autograd history: the backend is for inference.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tsuc.errors import TsucError

RESERVED = {"target", "cache_dir", "params", "verbose"}
"""Keys of `options` that are not target options."""


class TsucBackendError(TsucError):
    """tsuc could not compile or run a graph that torch.compile captured."""


@dataclass
class BackendStats:
    """What the backend did in this process (for tests and the tour)."""

    graphs: int = 0          # graphs dynamo handed over
    compiles: int = 0        # artifacts actually compiled
    cache_hits: int = 0      # calls that found a compiled artifact for their key
    compile_s: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.graphs = self.compiles = self.cache_hits = 0
        self.compile_s = []


STATS = BackendStats()
_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every compiled graph of this process."""
    with _LOCK:
        _CACHE.clear()


def register() -> None:
    """Register `backend="tsuc"` with torch by hand, for a source tree that is not pip-installed
    (an installed tsuc is found through its `torch_dynamo_backends` entry point)."""
    from torch._dynamo.backends.registry import _BACKENDS, register_backend

    if "tsuc" not in _BACKENDS:
        register_backend(tsuc_backend, name="tsuc")


def tsuc_backend(gm: Any, example_inputs: list[Any], options: dict[str, Any] | None = None, **_: Any) -> Any:
    """The dynamo backend: returns a callable that runs `gm` through tsuc."""
    options = dict(options or {})
    target = options.pop("target", "cpu")
    cache_dir = options.pop("cache_dir", None)
    params = dict(options.pop("params", None) or {})
    STATS.graphs += 1
    if not any(n.op == "call_function" or n.op == "call_method" or n.op == "call_module" for n in gm.graph.nodes):
        return gm.forward  # nothing to compute (a graph that only returns inputs)
    return CompiledGraph(gm, example_inputs, target, options, params, cache_dir)


class CompiledGraph:
    """One captured graph: its constants, and an artifact per concrete argument signature."""

    def __init__(self, gm: Any, example_inputs: list[Any], target: Any, options: dict[str, Any],
                 params: dict[str, Any], cache_dir: str | None) -> None:
        import torch

        self.gm = gm
        self.target = target
        self.options = options
        self.params = params
        self.cache_dir = cache_dir
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(example_inputs):
            raise TsucBackendError(f"graph has {len(placeholders)} inputs but dynamo gave {len(example_inputs)} examples")
        # which arguments are weights (parameters, buffers): baked into the artifact
        self.constant = [_is_weight(node, value) for node, value in zip(placeholders, example_inputs)]
        self.constants = {i: value.detach() for i, value in enumerate(example_inputs) if self.constant[i]}
        self.is_tensor = [isinstance(v, torch.Tensor) for v in example_inputs]
        h = hashlib.sha256(gm.code.encode())
        for i in sorted(self.constants):
            t = self.constants[i].contiguous()
            h.update(f"{i}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        h.update(json.dumps([str(target), sorted((k, str(v)) for k, v in options.items())]).encode())
        self.graph_key = h.hexdigest()
        self._local: dict[tuple, Any] = {}

    # -- calling --------------------------------------------------------------------------------

    def __call__(self, *args: Any) -> Any:
        signature = self._signature(args)
        exe = self._local.get(signature)
        if exe is None:
            exe = self._local[signature] = self._executable(signature, args)
        else:
            STATS.cache_hits += 1
        feeds = [a for i, a in enumerate(args) if self.is_tensor[i] and not self.constant[i]]
        try:
            outs = exe.run(dict(zip((s.name for s in exe.inputs), feeds)), **self.params)
        except TsucError as e:
            raise TsucBackendError(f"tsuc ({exe.target}) failed running a torch.compile graph: {e}") from None
        return tuple(outs[o.name] for o in exe.outputs)

    def _signature(self, args: tuple[Any, ...]) -> tuple:
        sig = []
        for i, a in enumerate(args):
            if self.constant[i]:
                continue
            if self.is_tensor[i]:
                sig.append((str(a.dtype), tuple(a.shape)))
            else:
                sig.append(("sym", int(a)))
        return tuple(sig)

    def _executable(self, signature: tuple, args: tuple[Any, ...]) -> Any:
        key = hashlib.sha256(f"{self.graph_key}|{signature}".encode()).hexdigest()
        with _LOCK:
            exe = _CACHE.get(key)
            if exe is not None:
                _CACHE.move_to_end(key)
                STATS.cache_hits += 1
                return exe
        path = os.path.join(self.cache_dir, key[:32] + ".tsuc") if self.cache_dir else None
        if path and os.path.isfile(path):
            from tsuc.runtime import load

            exe = load(path)
            STATS.cache_hits += 1
        else:
            exe = self._compile(args, path)
        with _LOCK:
            _CACHE[key] = exe
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        return exe

    # -- compiling ------------------------------------------------------------------------------

    def _compile(self, args: tuple[Any, ...], path: str | None) -> Any:
        from tsuc.compiler.driver import compile_model
        from tsuc.compiler.frontends.torch_import import export_torch

        t0 = time.perf_counter()
        module, inputs = self._specialised(args)
        try:
            proto = export_torch(module, tuple(inputs))
        except TsucError as e:
            raise TsucBackendError(f"torch.compile graph could not be exported to ONNX: {e}") from None
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            exe = compile_model(proto, target=self.target, options=self.options, output=path,
                                command=f"torch.compile(backend='tsuc', target={self.target!r})")
        except TsucError as e:
            raise TsucBackendError(_name_fx_node(str(e), proto)) from None
        STATS.compiles += 1
        STATS.compile_s.append(time.perf_counter() - t0)
        return exe

    def _specialised(self, args: tuple[Any, ...]) -> tuple[Any, list[Any]]:
        """A copy of the graph with the weights as buffers and `SymInt` inputs as the
        concrete values of this call; returns it and its tensor arguments."""
        import torch
        from torch import fx

        graph = fx.Graph()
        env: dict[Any, Any] = {}
        root = torch.nn.Module()
        inputs = []
        k = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                i = k
                k += 1
                if self.constant[i]:
                    name = f"_tsuc_const{i}"
                    root.register_buffer(name, self.constants[i])
                    env[node] = graph.get_attr(name)
                elif self.is_tensor[i]:
                    env[node] = graph.placeholder(node.name)
                    inputs.append(args[i].detach())
                else:
                    env[node] = int(args[i])
                continue
            copied = graph.node_copy(node, lambda n: env[n])
            if node.op == "call_function" and getattr(node.target, "__name__", "") in _FASTPATH_OPS:
                copied.target = _FASTPATH_OPS[node.target.__name__]
            env[node] = copied
        for name, sub in self.gm.named_children():
            root.add_module(name, sub)
        for name, value in self.gm.named_buffers(recurse=False):
            root.register_buffer(name, value)
        for name, value in self.gm.named_parameters(recurse=False):
            root.register_parameter(name, value)
        specialised = fx.GraphModule(root, graph)
        specialised.eval()
        return specialised, inputs


def _is_weight(node: Any, value: Any) -> bool:
    import torch

    if isinstance(value, torch.nn.Parameter):
        return True
    target = str(node.target)
    return isinstance(value, torch.Tensor) and ("_buffers_" in target or "_parameters_" in target)


def _name_fx_node(message: str, proto: Any) -> str:
    """`message` led by the FX node (and module path) that the ONNX node it names came from."""
    import re

    nodes = sorted((n for n in proto.graph.node if n.name), key=lambda n: -len(n.name))
    for node in nodes:
        if re.search(rf"(?<![\w.]){re.escape(node.name)}(?![\w.])", message):
            meta = {p.key: p.value for p in node.metadata_props}
            fx_node = meta.get("pkg.torch.onnx.fx_node", "")
            fx_name = fx_node.split("=", 1)[0].split(":", 1)[0].strip().lstrip("%") if fx_node else ""
            where = f"FX node {fx_name!r} ({node.op_type}" if fx_name else f"ONNX node {node.name!r} ({node.op_type}"
            scopes = meta.get("pkg.torch.onnx.name_scopes", "")
            try:
                path = [s for s in ast.literal_eval(scopes) if s][:-1] if scopes else []
            except (ValueError, SyntaxError):
                path = []
            where += f", module {path[-1]})" if path else ")"
            return f"tsuc cannot compile a torch.compile graph at {where}: {message}"
    return f"tsuc cannot compile a torch.compile graph: {message}"


def _encoder_layer_fwd(src: Any, embed_dim: int, num_heads: int, qkv_weight: Any, qkv_bias: Any, proj_weight: Any,
                       proj_bias: Any, use_gelu: bool, norm_first: bool, eps: float, norm_weight_1: Any,
                       norm_bias_1: Any, norm_weight_2: Any, norm_bias_2: Any, ffn_weight_1: Any, ffn_bias_1: Any,
                       ffn_weight_2: Any, ffn_bias_2: Any, mask: Any = None, mask_type: Any = None) -> Any:
    """`nn.TransformerEncoderLayer`'s fused inference kernel in plain ops.

    In eval mode under `no_grad` the layer calls `torch._transformer_encoder_layer_fwd`,
    which dynamo captures as is and which has no ONNX export; this is the layer's own
    slow path (batch-first, as the fast path requires), so the export sees Gemm, Softmax
    and LayerNormalization."""
    import torch
    import torch.nn.functional as F

    if mask is not None:
        raise TsucBackendError("nn.TransformerEncoderLayer's fused kernel with a mask is not supported by the tsuc "
                               "backend; call it with torch.backends.mha.set_fastpath_enabled(False)")
    head = embed_dim // num_heads

    def attention(x: Any) -> Any:
        b, n, _ = x.shape
        q, k, v = F.linear(x, qkv_weight, qkv_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, num_heads, head).transpose(1, 2) for t in (q, k, v))
        weights = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(head), dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, n, embed_dim)
        return F.linear(out, proj_weight, proj_bias)

    def feed_forward(x: Any) -> Any:
        hidden = F.linear(x, ffn_weight_1, ffn_bias_1)
        return F.linear(F.gelu(hidden) if use_gelu else F.relu(hidden), ffn_weight_2, ffn_bias_2)

    shape = (embed_dim,)
    if norm_first:
        x = src + attention(F.layer_norm(src, shape, norm_weight_1, norm_bias_1, eps))
        return x + feed_forward(F.layer_norm(x, shape, norm_weight_2, norm_bias_2, eps))
    x = F.layer_norm(src + attention(src), shape, norm_weight_1, norm_bias_1, eps)
    return F.layer_norm(x + feed_forward(x), shape, norm_weight_2, norm_bias_2, eps)


_FASTPATH_OPS = {"_transformer_encoder_layer_fwd": _encoder_layer_fwd}
"""torch's fused inference kernels that dynamo captures and ONNX cannot export -> plain-op equivalents."""

"""Loading a tfmbs segment of an artifact: its config and layers, each checked before a run.

Everything the executor runs is validated here once, at load time: config version, encoding,
the value flow between layers, every layer's plan against the machine, the PT-5 stream,
scales, bias, geometry, and the stored TFD program against the one the plan implies. A
mismatch is an `ArtifactError` naming the segment and the layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.tfmbs import fastpath, kernels, pt5
from tsuc.runtime.tfmbs.host_ops import conv_out_hw, im2col
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import LayerPlan

CONFIG_VERSION = 3  # 2: TFD program per row (every trit plane, Bank B offsets, lane_mask), -1 for run-time dims;
#                     3: a layer's optional "post" (folded residual Add and Relu)


@dataclass
class Layer:
    """One layer of the segment, loaded and checked."""

    plan: LayerPlan
    input: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    layout: str
    conv: dict[str, list[int]] | None
    alpha: float
    stream: np.ndarray  # the artifact's dense PT-5 weight stream (uint8)
    encoding: str
    scales: np.ndarray  # [P, N] float32
    bias: np.ndarray  # [N] float32
    tfds: np.ndarray  # [frames, 11] int64
    weight_sparsity: list[float]
    products: bytes | None = field(default=None, repr=False)  # the stored integer-product graph (int8_exact layers)
    post_residual: str | None = None  # folded residual Add: the value added to the output (argI or L<j>)
    post_relu: bool = False  # folded Relu, after the residual
    _trits: np.ndarray | None = field(default=None, repr=False)
    _wmat: np.ndarray | None = field(default=None, repr=False)
    _wabs: np.ndarray | None = field(default=None, repr=False)
    _int: dict[int, fastpath.IntProducts] = field(default_factory=dict, repr=False)
    _scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.zero_sign = fastpath.has_negative_zero(self.bias)  # see fastpath.finish
        self.scales64 = self.scales.astype(np.float64)  # what the epilogue kernels multiply by
        self.bias64 = self.bias.astype(np.float64)

    @property
    def trits(self) -> np.ndarray:
        """int8 [P, N, K], unpacked from the PT-5 stream on first use (and kept: 1 byte per
        weight, what the products, the replay images and the counters start from)."""
        if self._trits is None:
            p = self.plan
            self._trits = pt5.unpack_stream(self.stream, (p.w_planes, p.n, p.k), self.encoding)
        return self._trits

    def int8_ok(self) -> bool:
        """Can the layer run on onnxruntime's 8-bit integer products and numba's kernels (exactly)?"""
        return kernels.AVAILABLE and fastpath.int8_levels_fit(self.plan.act_trits) and self.products is not None

    def int_products(self, threads: int) -> fastpath.IntProducts:
        """The layer's onnxruntime session (its stored products graph) for `threads` intra-op
        threads, opened on first use."""
        if threads not in self._int:
            assert self.products is not None
            conv_shape = None if self.conv is None else (self.in_shape[1], *self.conv["kernel_shape"])
            self._int[threads] = fastpath.IntProducts(self.products, fastpath.row_weights(self.trits, conv_shape), threads)
        return self._int[threads]

    def scratch(self, role: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """The layer's work array `role`, reused from call to call while its shape holds: a
        fresh multi-megabyte array costs a page fault per 4 KiB on first touch (about 9 ms of
        a ResNet-50 call). Only for arrays no caller keeps past the next call (the last call's
        record may read them until then)."""
        buf = self._scratch.get(role)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._scratch[role] = np.empty(shape, dtype)
        return buf

    def rows_of(self, shape: tuple[int, ...]) -> int:
        """Input rows (frames per trit and group) of one call on an input of `shape`."""
        if self.conv is not None:
            b, _, h, w = shape
            oh, ow = conv_out_hw(h, w, self.conv["kernel_shape"], self.conv["strides"], self.conv["pads"], self.conv["dilations"])
            return b * oh * ow
        return int(np.prod(shape[:-1], dtype=np.int64))

    def out_shape_of(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output shape for an input of `shape` (leading dimensions are run-time values)."""
        if self.conv is not None:
            b, _, h, w = shape
            oh, ow = conv_out_hw(h, w, self.conv["kernel_shape"], self.conv["strides"], self.conv["pads"], self.conv["dilations"])
            return (b, self.plan.n, oh, ow)
        return (*shape[:-1], self.plan.n)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Does an input of `shape` fit the compiled layer? Leading dimensions recorded as -1
        (dynamic) take any size; every other dimension must match."""
        if len(shape) != len(self.in_shape):
            return False
        return all(c < 0 or c == s for c, s in zip(self.in_shape, shape))

    def wmat(self) -> np.ndarray:
        """float32, every weight plane side by side for one BLAS product: [K, P*N] for row
        layouts (rows @ W), [P*N, K] for convolutions (W @ patches, channel-major out)."""
        if self._wmat is None:
            P, N, K = self.trits.shape
            if self.conv is None:
                self._wmat = np.ascontiguousarray(self.trits.transpose(2, 0, 1).reshape(K, P * N), dtype=np.float32)
            else:
                self._wmat = self.trits.reshape(P * N, K).astype(np.float32)
        return self._wmat

    def slot_weights(self, cfg: FabricConfig) -> np.ndarray:
        """float64 [K, tiles*lanes]: per reduction index, the number of nonzero weights over
        all planes and groups that land in each (tile, lane) slot. cnt @ this gives the
        busy (non-skipped) cycles of every lane at once."""
        if self._wabs is None:
            p = self.plan
            nz = (self.trits != 0).sum(axis=0, dtype=np.int64).T.astype(np.float64)  # [K, N]
            slots = np.zeros((p.k, cfg.outputs_per_frame), np.float64)
            for g0 in range(0, p.n, cfg.outputs_per_frame):
                part = nz[:, g0:g0 + cfg.outputs_per_frame]
                slots[:, : part.shape[1]] += part
            self._wabs = slots
        return self._wabs

    def cols(self, levels: np.ndarray, dtype) -> np.ndarray:
        if self.conv is None:
            return levels.reshape(-1, self.plan.k).astype(dtype)
        c = self.conv
        return im2col(levels, c["kernel_shape"], c["strides"], c["pads"], c["dilations"], dtype=dtype)

    @property
    def has_post(self) -> bool:
        return self.post_residual is not None or self.post_relu

    def apply_post(self, y: np.ndarray, env: dict[str, np.ndarray]) -> np.ndarray:
        """The folded epilogue on the layer's output y (float32): y + residual in float32, then
        max(y, 0) as np.maximum (NaN stays NaN, -0.0 becomes +0.0). In place when y is a
        writable float32 array of its own (the layer's fresh output), else in a new array."""
        own = y.dtype == np.float32 and y.flags.writeable and y.flags.owndata
        if self.post_residual is not None:
            r = env[self.post_residual]
            if r.shape != y.shape:
                raise self.residual_mismatch(r.shape, y.shape)
            y = np.add(y, r, dtype=np.float32, out=y if own else None)
            own = True
        if self.post_relu:
            y = np.maximum(y, np.float32(0), out=y if own else None)
        return y

    def residual_mismatch(self, residual: tuple[int, ...], out: tuple[int, ...]) -> TsucError:
        return TsucError(f"tfmbs layer {self.plan.name!r} adds a residual of shape {residual} to its output of shape "
                         f"{out}; the folded Add needs them equal")

    def shape_output(self, y: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
        if self.layout == "nchw":
            b, n, oh, ow = out_shape
            return np.ascontiguousarray(y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2))
        return y.reshape(out_shape)


@dataclass
class SegmentConfig:
    """A tfmbs segment's config, checked: machine, encoding, value flow and layers."""

    machine: FabricConfig
    encoding: str
    n_inputs: int
    outputs: list[str]
    layers: list[Layer]


def load_segment(spec: dict[str, Any], artifact: Any, where: str) -> SegmentConfig:
    config = spec.get("config", {})
    if config.get("version") != CONFIG_VERSION:
        raise ArtifactError(f"{where} has config version {config.get('version')!r}; this runtime reads version {CONFIG_VERSION}")
    try:
        machine = FabricConfig.from_dict(config["machine"])
        encoding = str(config["encoding"])
        n_inputs = int(config["inputs"])
        outputs = [str(o) for o in config["outputs"]]
        entries = list(config["layers"])
    except (KeyError, TypeError, ValueError, TsucError) as e:
        raise ArtifactError(f"{where} has a malformed config ({e})") from None
    if encoding not in pt5.ENCODINGS:
        raise ArtifactError(f"{where} stores weights in unknown PT-5 encoding {encoding!r}")
    if n_inputs != len(spec["inputs"]) or len(outputs) != len(spec["outputs"]):
        raise ArtifactError(f"{where}: config and manifest disagree on inputs/outputs")
    layers = [load_layer(i, e, artifact, machine, encoding, where) for i, e in enumerate(entries)]
    known = {f"arg{i}" for i in range(n_inputs)} | {f"L{i}" for i in range(len(layers))}
    for i, layer in enumerate(layers):
        if layer.input not in known or (layer.input.startswith("L") and int(layer.input[1:]) >= i):
            raise ArtifactError(f"{where}: layer {layer.plan.name!r} reads {layer.input!r}, which is not available before it")
        res = layer.post_residual
        if res is not None:
            if res not in known or (res.startswith("L") and int(res[1:]) >= i):
                raise ArtifactError(f"{where}: layer {layer.plan.name!r} adds the residual {res!r}, which is not available "
                                    f"before it")
            if res.startswith("L") and layers[int(res[1:])].out_shape != layer.out_shape:
                raise ArtifactError(f"{where}: layer {layer.plan.name!r} adds the residual {res!r} of another shape")
    if any(o not in known for o in outputs):
        raise ArtifactError(f"{where}: an output names no layer")
    return SegmentConfig(machine, encoding, n_inputs, outputs, layers)


def load_layer(index: int, e: dict[str, Any], artifact: Any, cfg: FabricConfig, encoding: str, where: str) -> Layer:
    try:
        plan = LayerPlan.from_json(e["plan"])
        members = e["members"]
        stream = artifact.array(members["weights"])
        scales = np.asarray(artifact.array(members["scales"]), np.float32)
        bias = np.asarray(artifact.array(members["bias"]), np.float32)
        tfds = np.asarray(artifact.array(members["tfds"]))
        layer = Layer(plan, str(e["input"]), tuple(int(d) for d in e["in_shape"]), tuple(int(d) for d in e["out_shape"]),
                      str(e["layout"]), e.get("conv"), float(e["alpha"]), stream, encoding, scales, bias, tfds,
                      list(e.get("weight_sparsity", [])))
        if "products" in members:
            layer.products = artifact.bytes(members["products"])
        post = e.get("post")
        if post is not None:
            res = post["residual"]
            if res is not None and not isinstance(res, str) or not isinstance(post["relu"], bool):
                raise TypeError("post must be {\"residual\": a value name or null, \"relu\": a bool}")
            layer.post_residual, layer.post_relu = res, post["relu"]
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(f"{where}: layer {index} entry is malformed ({err})") from None
    plan.check(cfg)
    P, N, K = plan.w_planes, plan.n, plan.k
    if stream.dtype != np.uint8 or stream.shape != (-(-(P * N * K) // 5),):
        raise ArtifactError(f"{where}: layer {plan.name!r} weight stream has the wrong size for {P}x{N}x{K} trits")
    try:
        pt5.check_bytes(stream, "weight stream")
    except TsucError as err:
        raise ArtifactError(f"{where}: layer {plan.name!r} weights are not valid PT-5 ({err})") from None
    if scales.shape != (P, N) or bias.shape != (N,):
        raise ArtifactError(f"{where}: layer {plan.name!r} scales or bias have the wrong shape")
    expect = plan.tfd_table(cfg)
    if tfds.shape != expect.shape or not np.array_equal(tfds, expect):
        raise ArtifactError(f"{where}: layer {plan.name!r} TFD program does not match its plan")
    if layer.layout not in ("rows", "nchw") or (layer.layout == "nchw") != (layer.conv is not None):
        raise ArtifactError(f"{where}: layer {plan.name!r} has an invalid layout")
    shape = layer.in_shape
    if layer.conv is not None:
        if len(shape) != 4 or shape[1] * int(np.prod(layer.conv["kernel_shape"])) != K or min(shape[1:]) < 1:
            raise ArtifactError(f"{where}: layer {plan.name!r} conv geometry disagrees with K={K}")
        dyn = shape[0] < 0
    else:
        if not shape or shape[-1] != K:
            raise ArtifactError(f"{where}: layer {plan.name!r} input shape disagrees with K={K}")
        dyn = any(d < 0 for d in shape[:-1])
    if any(d < 0 for d in layer.out_shape) != dyn:
        raise ArtifactError(f"{where}: layer {plan.name!r} input and output shapes disagree on dynamic dimensions")
    probe = tuple(1 if d < 0 else d for d in shape)
    want = tuple(1 if d < 0 else d for d in layer.out_shape)
    if layer.out_shape_of(probe) != want:
        raise ArtifactError(f"{where}: layer {plan.name!r} output shape disagrees with its input")
    return layer

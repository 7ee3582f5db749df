"""`TfmbsSegment`: runs a tfmbs segment of an artifact and reports what the fabric did.

Two ways to run, same numbers (tests hold them to bit-exact outputs and equal counters):

- `fast` (default): per layer, quantise the input, compute the integer products of every
  weight plane at once, and the float epilogue (`fastpath`). The products are onnxruntime's
  8-bit integer kernels where the levels fit in 8 bits (act_trits <= 5), otherwise (or with
  `--param tfmbs_products=blas`) im2col and one float32 BLAS product (exact: every partial
  sum is an integer below 2^24, else float64). The fabric counters are computed in closed
  form (`schedule.layer_counters`) from the nonzero counts of the trit planes, lazily when
  `profile()` is asked for.
- `replay` (`--param tfmbs_mode=replay`): drive the `Fabric` device model with the layer's
  real program: PT-5 SRAM words over DMA, the stored TFD descriptors frame by frame, results
  read from the accumulators. Slow (Python per frame); for small models and for checking.

Weights of `resident` layers are loaded on the first call of the executor and stay (their
DMA is counted in the first call's profile only). All tfmbs segments of one artifact share
one fabric (the compiler allocated Bank A across all of them).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import Param, SegmentExecutor
from tsuc.runtime.tfmbs import actquant, fastpath, pt5
from tsuc.runtime.tfmbs.fabric import Fabric, energy_estimate
from tsuc.runtime.tfmbs.host_ops import column_sums, conv_out_hw, epilogue, im2col, im2col_t
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.schedule import Counters, LayerPlan, commands, layer_counters, preload_bursts, preload_counters
from tsuc.runtime.tfmbs.tfd import TFD

CONFIG_VERSION = 1
EXACT_F32 = 1 << 24

_FABRICS: "weakref.WeakKeyDictionary[Any, Fabric]" = weakref.WeakKeyDictionary()


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
    _trits: np.ndarray | None = field(default=None, repr=False)
    _wmat: np.ndarray | None = field(default=None, repr=False)
    _wabs: np.ndarray | None = field(default=None, repr=False)
    _int: dict[int, fastpath.IntProducts] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.zero_sign = fastpath.has_negative_zero(self.bias)  # see fastpath.finish

    @property
    def trits(self) -> np.ndarray:
        """int8 [P, N, K], unpacked from the PT-5 stream on first use (and kept: 1 byte per
        weight, what the products, the replay images and the counters start from)."""
        if self._trits is None:
            p = self.plan
            self._trits = pt5.unpack_stream(self.stream, (p.w_planes, p.n, p.k), self.encoding)
        return self._trits

    def int8_ok(self) -> bool:
        """Can the products run on onnxruntime's 8-bit integer kernels (exactly)?"""
        return fastpath.int8_levels_fit(self.plan.act_trits) and fastpath.int8_exact(self.plan.k)

    def int_products(self, threads: int) -> fastpath.IntProducts:
        """The layer's onnxruntime session for `threads` intra-op threads, built on first use."""
        if threads not in self._int:
            self._int[threads] = fastpath.IntProducts(self.trits, self.rows, threads)
        return self._int[threads]

    @property
    def rows(self) -> int:
        if self.conv is not None:
            b, _, h, w = self.in_shape
            oh, ow = conv_out_hw(h, w, self.conv["kernel_shape"], self.conv["strides"], self.conv["pads"], self.conv["dilations"])
            return b * oh * ow
        return int(np.prod(self.in_shape[:-1], dtype=np.int64))

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

    def shape_output(self, y: np.ndarray) -> np.ndarray:
        if self.layout == "nchw":
            b, n, oh, ow = self.out_shape
            return np.ascontiguousarray(y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2))
        return y.reshape(self.out_shape)


@dataclass
class CallRecord:
    """What `profile()` needs of one layer in the last call."""

    levels: np.ndarray  # the layer input's integer levels (before im2col), plus `offset`
    act_scale: float
    replayed: Counters | None = None
    offset: int = 0  # the levels are stored as q + offset


class TfmbsSegment(SegmentExecutor):
    kind = "tfmbs"
    params = {
        "tfmbs_mode": Param(str, "fast", "fast (vectorised, closed-form counters) or replay (drive the Fabric model frame by frame)"),
        "tfmbs_threads": Param(int, 0, "threads of the fast path (products and elementwise work; 0 = one per core)", 0, 1024),
        "tfmbs_products": Param(str, "auto", "fast-path products: int8 (onnxruntime's 8-bit integer kernels, act_trits <= 5), "
                                             "blas (float32/float64 BLAS), or auto (int8 where it applies, else blas)"),
    }

    def __init__(self, spec: dict[str, Any], artifact: Any) -> None:
        super().__init__(spec, artifact)
        where = f"{artifact.path}: tfmbs segment {self.name!r}"
        config = spec.get("config", {})
        if config.get("version") != CONFIG_VERSION:
            raise ArtifactError(f"{where} has config version {config.get('version')!r}; this runtime reads version {CONFIG_VERSION}")
        try:
            self.config = FabricConfig.from_dict(config["machine"])
            self.encoding = str(config["encoding"])
            self.n_inputs = int(config["inputs"])
            self.outputs = [str(o) for o in config["outputs"]]
            entries = list(config["layers"])
        except (KeyError, TypeError, ValueError, TsucError) as e:
            raise ArtifactError(f"{where} has a malformed config ({e})") from None
        if self.encoding not in pt5.ENCODINGS:
            raise ArtifactError(f"{where} stores weights in unknown PT-5 encoding {self.encoding!r}")
        if self.n_inputs != len(spec["inputs"]) or len(self.outputs) != len(spec["outputs"]):
            raise ArtifactError(f"{where}: config and manifest disagree on inputs/outputs")
        self.layers = [self._load_layer(i, e, artifact, where) for i, e in enumerate(entries)]
        known = {f"arg{i}" for i in range(self.n_inputs)} | {f"L{i}" for i in range(len(self.layers))}
        for i, layer in enumerate(self.layers):
            if layer.input not in known or (layer.input.startswith("L") and int(layer.input[1:]) >= i):
                raise ArtifactError(f"{where}: layer {layer.plan.name!r} reads {layer.input!r}, which is not available before it")
        if any(o not in known for o in self.outputs):
            raise ArtifactError(f"{where}: an output names no layer")
        self._artifact = artifact
        self._calls = 0
        self._last: list[CallRecord] = []
        self._last_first_call = False
        self._last_mode = "fast"
        self._profile_cache: dict[str, Any] | None = None
        self._replayed_preload: Counters | None = None

    def _load_layer(self, index: int, e: dict[str, Any], artifact: Any, where: str) -> Layer:
        try:
            plan = LayerPlan.from_json(e["plan"])
            members = e["members"]
            stream = artifact.array(members["weights"])
            scales = np.asarray(artifact.array(members["scales"]), np.float32)
            bias = np.asarray(artifact.array(members["bias"]), np.float32)
            tfds = np.asarray(artifact.array(members["tfds"]))
            layer = Layer(plan, str(e["input"]), tuple(e["in_shape"]), tuple(e["out_shape"]), str(e["layout"]),
                          e.get("conv"), float(e["alpha"]), stream, self.encoding, scales, bias, tfds,
                          list(e.get("weight_sparsity", [])))
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{where}: layer {index} entry is malformed ({err})") from None
        plan.check(self.config)
        P, N, K = plan.w_planes, plan.n, plan.k
        if stream.dtype != np.uint8 or stream.shape != (-(-(P * N * K) // 5),):
            raise ArtifactError(f"{where}: layer {plan.name!r} weight stream has the wrong size for {P}x{N}x{K} trits")
        try:
            pt5.check_bytes(stream, "weight stream")
        except TsucError as err:
            raise ArtifactError(f"{where}: layer {plan.name!r} weights are not valid PT-5 ({err})") from None
        if scales.shape != (P, N) or bias.shape != (N,):
            raise ArtifactError(f"{where}: layer {plan.name!r} scales or bias have the wrong shape")
        expect = plan.tfd_table(self.config)
        if tfds.shape != expect.shape or not np.array_equal(tfds, expect):
            raise ArtifactError(f"{where}: layer {plan.name!r} TFD program does not match its plan")
        if layer.layout not in ("rows", "nchw") or (layer.layout == "nchw") != (layer.conv is not None):
            raise ArtifactError(f"{where}: layer {plan.name!r} has an invalid layout")
        if layer.conv is not None and (len(layer.in_shape) != 4 or layer.in_shape[1] * int(np.prod(layer.conv["kernel_shape"])) != K):
            raise ArtifactError(f"{where}: layer {plan.name!r} conv geometry disagrees with K={K}")
        if layer.conv is None and (not layer.in_shape or layer.in_shape[-1] != K):
            raise ArtifactError(f"{where}: layer {plan.name!r} input shape disagrees with K={K}")
        if int(np.prod(layer.out_shape, dtype=np.int64)) != layer.rows * N:
            raise ArtifactError(f"{where}: layer {plan.name!r} output shape disagrees with its rows")
        return layer

    # -- running ----------------------------------------------------------------------------

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        mode = params.get("tfmbs_mode") or "fast"
        if mode not in ("fast", "replay"):
            raise TsucError(f"parameter tfmbs_mode={mode!r} must be fast or replay")
        products = params.get("tfmbs_products") or "auto"
        if products not in ("auto", "int8", "blas"):
            raise TsucError(f"parameter tfmbs_products={products!r} must be auto, int8 or blas")
        if products == "int8":
            bad = next((layer for layer in self.layers if not layer.int8_ok()), None)
            if bad is not None:
                raise TsucError(f"parameter tfmbs_products=int8 does not apply to tfmbs layer {bad.plan.name!r} "
                                f"(act_trits={bad.plan.act_trits}: 8-bit levels need act_trits <= {fastpath.INT8_MAX_ACT_TRITS})")
        threads = int(params.get("tfmbs_threads") or 0)
        if threads < 0:
            raise TsucError(f"parameter tfmbs_threads={threads} must be 0 (one per core) or more")
        threads = threads or fastpath.cpu_threads()
        env: dict[str, np.ndarray] = {f"arg{i}": np.asarray(feeds[n]) for i, n in enumerate(self.spec["inputs"])}
        first = self._calls == 0
        fab = self._fabric() if mode == "replay" else None
        self._replayed_preload = None
        if fab is not None and first:
            before = Counters.of_fabric(fab)
            self._preload(fab)
            self._replayed_preload = _difference(Counters.of_fabric(fab), before)
        records = self._run_layers(env, fab, products, threads)
        self._calls += 1
        self._last, self._last_first_call, self._last_mode = records, first, mode
        self._profile_cache = None
        return {name: env[src] for name, src in zip(self.spec["outputs"], self.outputs)}

    def _run_layers(self, env: dict[str, np.ndarray], fab: Fabric | None, products: str = "auto",
                    threads: int = 1) -> list[CallRecord]:
        records = []
        for i, layer in enumerate(self.layers):
            x = env[layer.input]
            if x.shape != layer.in_shape:
                raise TsucError(f"tfmbs layer {layer.plan.name!r} got an input of shape {x.shape}, compiled for {layer.in_shape}")
            if x.dtype != np.float32:
                x = x.astype(np.float32)
            if fab is not None:
                levels, s = actquant.quantize(x, layer.plan.act_trits)
                rec = CallRecord(levels, s)
                q, rec.replayed = self._replay_products(fab, layer, levels)
                env[f"L{i}"] = layer.shape_output(epilogue(q, layer.scales, s, layer.alpha, layer.bias))
            elif products != "blas" and layer.int8_ok():
                rec = self._fast_int8(layer, x, env, i, threads)
            else:
                rec = self._fast_blas(layer, x, env, i, threads)
            records.append(rec)
        return records

    def _finish(self, layer: Layer, q: np.ndarray, s: float, threads: int) -> np.ndarray:
        """The epilogue of q ([B, P, N, R] for convolutions, [M, P, N] for rows) into a new
        float32 array of the layer's output shape."""
        y = np.empty(layer.out_shape, np.float32)
        if layer.conv is not None:
            b, n = layer.out_shape[:2]
            view = y.reshape(b, n, -1)
        else:
            view = y.reshape(-1, layer.plan.n)
        fastpath.finish(q, layer.scales, s, layer.alpha, layer.bias, view, channels_first=layer.conv is not None,
                        zero_sign=layer.zero_sign, threads=threads)
        return y

    def _fast_int8(self, layer: Layer, x: np.ndarray, env: dict[str, np.ndarray], i: int, threads: int) -> CallRecord:
        P, N, K = layer.plan.w_planes, layer.plan.n, layer.plan.k
        levels, s = fastpath.levels_i8(x, layer.plan.act_trits, threads)
        if layer.conv is None:
            cols_t = np.ascontiguousarray(levels.reshape(-1, K).T)  # [K, M]; a view for one row
        else:
            cols_t = fastpath.im2col_t(levels, layer.conv, threads)
        q = layer.int_products(threads)(cols_t)  # [P*N, M]
        if layer.conv is None:
            q = q.reshape(P, N, -1).transpose(2, 0, 1)
        else:
            q = q.reshape(P, N, layer.out_shape[0], -1).transpose(2, 0, 1, 3)
        env[f"L{i}"] = self._finish(layer, q, s, threads)
        return CallRecord(levels, s)

    def _fast_blas(self, layer: Layer, x: np.ndarray, env: dict[str, np.ndarray], i: int, threads: int) -> CallRecord:
        P, N, K = layer.plan.w_planes, layer.plan.n, layer.plan.k
        levels, s = actquant.quantize(x, layer.plan.act_trits)
        exact32 = actquant.levels(layer.plan.act_trits) * K < EXACT_F32
        dtype = np.float32 if exact32 else np.float64
        w = layer.wmat() if exact32 else layer.wmat().astype(np.float64)
        with _blas_threads(threads):
            if layer.conv is None:
                q = (layer.cols(levels, dtype) @ w).reshape(-1, P, N)  # [M, P*N]
            else:  # channel-major: W [P*N, K] @ patches [K, B*OH*OW]
                c = layer.conv
                q = w @ im2col_t(levels, c["kernel_shape"], c["strides"], c["pads"], c["dilations"], dtype=dtype)
                q = q.reshape(P, N, layer.out_shape[0], -1).transpose(2, 0, 1, 3)
        env[f"L{i}"] = self._finish(layer, q, s, threads)
        return CallRecord(levels, s)

    # -- replay on the device model ----------------------------------------------------------

    def _fabric(self) -> Fabric:
        fab = _FABRICS.get(self._artifact)
        if fab is None:
            fab = _FABRICS[self._artifact] = Fabric(self.config)
        return fab

    def _images(self, layer: Layer) -> np.ndarray:
        """Lane-major SRAM words of every plane: uint32 [P, G, T, K] (the artifact's PT-5
        stream re-expanded into 24-of-32-bit words, mod3 as the hardware decodes)."""
        cfg = self.config
        return np.stack([pt5.weight_words(layer.trits[p], cfg.tiles, cfg.lanes) for p in range(layer.plan.w_planes)])

    def _preload(self, fab: Fabric) -> None:
        cfg = self.config
        for layer in self.layers:
            if layer.plan.mode != "resident":
                continue
            img = self._images(layer)  # [P, G, T, K]
            for t, word, words in preload_bursts(layer.plan, cfg):
                count = words // (layer.plan.w_planes * layer.plan.k)
                block = img[:, :count, t, :].transpose(1, 0, 2).reshape(-1)  # g-major, then p, then k
                fab.load(cfg.bank_a_addr(t, word), block)

    def _replay_products(self, fab: Fabric, layer: Layer, levels: np.ndarray) -> tuple[list[np.ndarray], Counters]:
        cfg, plan = self.config, layer.plan
        before = Counters.of_fabric(fab)
        cols = layer.cols(levels, np.int32)
        planes = actquant.trit_planes(cols, plan.act_trits)  # [J, M, K]
        img = self._images(layer)
        groups, chunks = plan.groups(cfg), plan.chunks(cfg)
        tfds = [TFD.from_row(r) for r in layer.tfds]
        rows = cols.shape[0]
        acc = np.zeros((plan.act_trits, plan.w_planes, rows, plan.n), np.int64)
        for cmd in commands(plan, cfg, rows):
            kind = cmd[0]
            if kind == "x":
                _, m, j, k0, depth = cmd
                fab.load(cfg.broadcast_b_addr(0), pt5.input_words(planes[j, m, k0:k0 + depth]))
            elif kind == "w":
                _, g, p, ci = cmd
                for t in range(groups[g].tiles):
                    if p is None:  # the whole group: planes side by side, P*K words
                        words = img[:, g, t, :].reshape(-1)
                        fab.load(cfg.bank_a_addr(t, plan.a_base), words)
                    else:
                        c = chunks[ci]
                        fab.load(cfg.bank_a_addr(t, plan.block_word(g, p, c)), img[p, g, t, c.k0:c.k0 + c.depth])
            elif kind == "frame":
                fab.submit(tfds[cmd[1]])
                fab.wait()
            else:  # read
                _, m, j, g, p = cmd
                grp = groups[g]
                acc[j, p, m, grp.n0:grp.n0 + grp.rows] = fab.results(-1)[: grp.rows]
        pow3 = 3 ** np.arange(plan.act_trits, dtype=np.int64)
        q = [np.tensordot(pow3, acc[:, p], axes=1) for p in range(plan.w_planes)]
        after = Counters.of_fabric(fab)
        return q, _difference(after, before)

    # -- profile -----------------------------------------------------------------------------

    def layer_profiles(self) -> list[tuple[Layer, Counters, float]]:
        """(layer, counters of the last call, activation sparsity) for every layer."""
        cfg = self.config
        out = []
        for layer, rec in zip(self.layers, self._last):
            plan = layer.plan
            rows = layer.rows
            nz = _nonzero_digits(rec, plan.act_trits)
            if layer.conv is None:
                cnt = nz.reshape(-1, plan.k).sum(axis=0, dtype=np.int64)
            else:
                c = layer.conv
                cnt = column_sums(nz, c["kernel_shape"], c["strides"], c["pads"], c["dilations"])
            nonskip = None
            if plan.zero_skip:  # exact: every product and partial sum is an integer below 2^53
                busy = cnt.astype(np.float64) @ layer.slot_weights(cfg)
                nonskip = np.rint(busy).astype(np.int64).reshape(cfg.tiles, cfg.lanes)
            counters = layer_counters(plan, cfg, rows, nonskip)
            act_sparsity = 1.0 - float(cnt.sum()) / (rows * plan.act_trits * plan.k) if rows else 0.0
            out.append((layer, counters, act_sparsity))
        return out

    def preload(self) -> Counters:
        total = Counters(self.config.tiles, self.config.lanes)
        for layer in self.layers:
            total += preload_counters(layer.plan, self.config)
        return total

    def profile(self) -> dict[str, Any]:
        if not self._last:
            return {}
        if self._profile_cache is None:
            self._profile_cache = self._compute_profile()
        return self._profile_cache

    def _compute_profile(self) -> dict[str, Any]:
        cfg = self.config
        total = Counters(cfg.tiles, cfg.lanes)
        layers = []
        agrees = True
        for (layer, c, act_sparsity), rec in zip(self.layer_profiles(), self._last):
            if rec.replayed is not None:  # the device model ran: its counters are the ground truth
                agrees &= rec.replayed.same_as(c)
                c = rec.replayed
            total += c
            layers.append(_summary(cfg, c) | {
                "name": layer.plan.name, "mode": layer.plan.mode, "act_scale": rec.act_scale,
                "weight_sparsity": sum(layer.weight_sparsity) / max(1, len(layer.weight_sparsity)),
                "act_sparsity": round(act_sparsity, 6),
            })
        preload = self.preload() if self._last_first_call else Counters(cfg.tiles, cfg.lanes)
        if self._replayed_preload is not None:
            agrees &= self._replayed_preload.same_as(preload)
            preload = self._replayed_preload
        total += preload
        out = _summary(cfg, total)
        out.update(
            preload_cycles=int(preload.cycles),
            fabric_ms=total.cycles / cfg.clock_hz * 1e3,
            skips_per_lane=[int(v) for v in total.skips.sum(axis=0)],
            active_cycles_per_lane=[int(v) for v in total.active.sum(axis=0)],
            mode=self._last_mode,
            layers=layers,
        )
        if self._last_mode == "replay":
            out["closed_form_agrees"] = bool(agrees)
        return out

    def profile_detailed(self) -> dict[str, Any]:
        """The last call in the seed's `Fabric.profile_detailed()` form."""
        p = self.profile()
        if not p:
            return {}
        return {"cycles": p["cycles"], "utilization": p["utilization"], "skips": p["skips_per_lane"],
                "burst_wait_cycles": p["burst_wait_cycles"], "overflow_flags": p["overflow_flags"],
                "active_cycles": p["active_cycles_per_lane"]}


@contextlib.contextmanager
def _blas_threads(n: int):
    """Limit BLAS threads for the products (numbers are exact integers, so identical either
    way). Needs threadpoolctl; without it the limit is not applied."""
    if n <= 0 or _controller() is None:
        yield
        return
    with _controller().limit(limits=n, user_api="blas"):
        yield


@functools.cache
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _nonzero_digits(rec: CallRecord, act_trits: int) -> np.ndarray:
    """int8, the layer input's shape: how many balanced-ternary digits of each level are nonzero."""
    lim = actquant.levels(act_trits)
    table = actquant.nonzero_digit_table(act_trits)
    if rec.levels.dtype.itemsize == 1:  # a 256-entry table indexed by the stored byte
        lut = np.zeros(256, np.int8)
        lut[(np.arange(-lim, lim + 1) + rec.offset) & 0xFF] = table
        return np.take(lut, rec.levels.view(np.uint8))
    if act_trits == 1:
        return (rec.levels != 0).view(np.int8)
    return np.take(table, rec.levels.astype(np.intp) + (lim - rec.offset))


def _difference(after: Counters, before: Counters) -> Counters:
    out = Counters(after.tiles, after.lanes)
    for name in ("cycles", "compute_cycles", "burst_wait_cycles", "dma_words", "dma_bursts", "frames", "tile_cycles"):
        setattr(out, name, getattr(after, name) - getattr(before, name))
    out.active = after.active - before.active
    out.skips = after.skips - before.skips
    out.overflow = after.overflow & ~before.overflow
    return out


def _summary(cfg: FabricConfig, c: Counters) -> dict[str, Any]:
    active = int(c.active.sum())
    skips = int(c.skips.sum())
    lanes_total = cfg.tiles * cfg.lanes
    energy = energy_estimate(cfg, active=active, skips=skips, tile_cycles=c.tile_cycles, dma_words=c.dma_words, cycles=c.cycles)
    flags = c.overflow.any(axis=0)
    return {
        "cycles": int(c.cycles),
        "compute_cycles": int(c.compute_cycles),
        "burst_wait_cycles": int(c.burst_wait_cycles),
        "active_cycles": active,
        "skips": skips,
        "utilization": active / (c.cycles * lanes_total) if c.cycles else 0.0,
        "overflow_flags": int(sum(1 << int(i) for i in np.flatnonzero(flags))),
        "frames": int(c.frames),
        "dma_words": int(c.dma_words),
        "energy_j": energy["energy_j"],
    }


# -- trace and inspect ---------------------------------------------------------------------------

FRAME_EVENTS_MAX = 4096  # per layer and call; above it a layer is one event per tile


def _trace_layer(events: list[dict[str, Any]], pid: int, layer: Layer, cfg: FabricConfig, rows: int, t0: float,
                 summary: dict[str, Any]) -> float:
    """Append the layer's events starting at cycle t0; return the cycle it ends at."""
    us = 1e6 / cfg.clock_hz
    plan = layer.plan
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    frames = rows * plan.act_trits * len(groups) * plan.w_planes * len(chunks)
    if frames > FRAME_EVENTS_MAX:
        dur = summary["cycles"]
        used = max(g.tiles for g in groups)
        for t in range(used):
            events.append({"name": plan.name, "cat": "tfmbs.layer", "ph": "X", "pid": pid, "tid": t, "ts": t0 * us,
                           "dur": dur * us, "args": {"frames": frames, "cycles": dur, "mode": plan.mode,
                                                      "burst_wait_cycles": summary["burst_wait_cycles"]}})
        return t0 + dur
    t = t0
    tfds = layer.tfds
    for cmd in commands(plan, cfg, rows):
        if cmd[0] in ("x", "w"):
            if cmd[0] == "x":
                words = cmd[4]
                bursts = [words]
            elif cmd[2] is None:
                bursts = [plan.w_planes * plan.k] * groups[cmd[1]].tiles
            else:
                bursts = [chunks[cmd[3]].depth] * groups[cmd[1]].tiles
            for words in bursts:
                cost = cfg.dma_cycles(words)
                events.append({"name": f"dma {'input' if cmd[0] == 'x' else 'weights'}", "cat": "tfmbs.dma", "ph": "X",
                               "pid": pid, "tid": cfg.tiles, "ts": t * us, "dur": cost * us, "args": {"words": words}})
                t += cost
        elif cmd[0] == "frame":
            row = tfds[cmd[1]]
            depth, mask = int(row[1]), int(row[8])
            for tile in range(cfg.tiles):
                if mask >> tile & 1:
                    events.append({"name": plan.name, "cat": "tfmbs.frame", "ph": "X", "pid": pid, "tid": tile,
                                   "ts": t * us, "dur": depth * us, "args": {"tfd": int(cmd[1]), "frame_len": depth}})
            t += depth
    return t


def _trace_events(self: TfmbsSegment) -> list[dict[str, Any]]:
    """Chrome/Perfetto trace of the last call: frames per tile (one track per tile) and DMA
    bursts (one more track), in fabric time. Layers with more than FRAME_EVENTS_MAX frames
    show as one event per tile. Segments of one artifact follow each other on one timeline."""
    prof = self.profile()
    if not prof:
        return []
    cfg = self.config
    pid = 1000
    start = _TRACE_CLOCK.get(self._artifact, 0.0) if self._calls else 0.0
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "args": {"name": "Ternary Fabric"}},
        *({"name": "thread_name", "ph": "M", "pid": pid, "tid": t, "args": {"name": f"tile {t}"}} for t in range(cfg.tiles)),
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": cfg.tiles, "args": {"name": "DMA"}},
    ]
    t = start + prof["preload_cycles"]
    if prof["preload_cycles"]:
        events.append({"name": "preload resident weights", "cat": "tfmbs.dma", "ph": "X", "pid": pid, "tid": cfg.tiles,
                       "ts": start * 1e6 / cfg.clock_hz, "dur": prof["preload_cycles"] * 1e6 / cfg.clock_hz, "args": {}})
    for layer, summary in zip(self.layers, prof["layers"]):
        t = _trace_layer(events, pid, layer, cfg, layer.rows, t, summary)
    _TRACE_CLOCK[self._artifact] = t
    return events


def _describe(cls, spec: dict[str, Any]) -> list[str]:
    """Lines for `tsuc inspect`: machine, SRAM use, and per layer its tile map and sparsity."""
    config = spec.get("config", {})
    try:
        cfg = FabricConfig.from_dict(config["machine"])
        plans = [LayerPlan.from_json(e["plan"]) for e in config["layers"]]
    except (KeyError, TypeError, ValueError, TsucError):
        return ["(malformed tfmbs config)"]
    resident = sum(p.footprint(cfg) for p in plans if p.mode == "resident")
    window = max((p.window(cfg) for p in plans if p.mode != "resident"), default=0)
    lines = [
        f"fabric: {cfg.tiles} tiles x {cfg.lanes} lanes, banks {cfg.bank_words} words, {cfg.clock_hz / 1e6:g} MHz, "
        f"DMA {cfg.dma_words_per_cycle} word/cycle + {cfg.dma_latency} cycles/burst; weights PT-5 ({config.get('encoding')})",
        f"Bank A (this segment): {resident} resident words per tile, stream window {window} words",
    ]
    for e, p in zip(config["layers"], plans):
        groups, chunks = p.groups(cfg), p.chunks(cfg)
        tiles = ",".join(f"{g.tile_mask:#x}" for g in groups[:6]) + ("..." if len(groups) > 6 else "")
        sparsity = e.get("weight_sparsity", [])
        lines.append(
            f"{p.name}: N={p.n} K={p.k} w_planes={p.w_planes} act_trits={p.act_trits} | {p.mode} @ word {p.a_base} | "
            f"{len(groups)} group(s) x {len(chunks)} chunk(s), {len(groups) * len(chunks) * p.w_planes * p.act_trits} frames/row, "
            f"tile masks {tiles} | weight sparsity {', '.join(f'{s:.3f}' for s in sparsity)}")
    return lines


_TRACE_CLOCK: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()
TfmbsSegment.trace_events = _trace_events  # type: ignore[attr-defined]
TfmbsSegment.describe = classmethod(_describe)  # type: ignore[attr-defined]

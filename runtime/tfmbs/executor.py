"""`TfmbsSegment`: runs a tfmbs segment of an artifact and reports what the fabric did.

Two ways to run, same numbers (tests hold them to bit-exact outputs and equal counters):

- `fast` (default, `fastrun`): per layer, quantise the input, compute the integer products
  of every weight plane at once, and the float epilogue. The products are onnxruntime's
  8-bit integer kernels where the levels fit in 8 bits (act_trits <= 5), otherwise (or with
  `--param tfmbs.products=blas`) one float32 BLAS product; layers whose accumulators can
  wrap (`acc_bits` below K) multiply trit plane by trit plane and wrap each. The fabric
  counters are computed in closed form (`profile`) from what the run recorded, lazily when
  `profile()` is asked for.
- `replay` (`--param tfmbs.mode=replay`, `replay`): drive the `Fabric` device model with the
  layer's real program. Slow (Python per frame); for small models and for checking.

Leading dimensions (batch, and any leading dimension of a MatMul/Gemm input) are run-time
values when the artifact records them as -1: a layer's TFD program is per row, so it runs
whatever row count arrives.

Device state: the `Fabric` of a replay lives in the `devices` dict the runtime gives every
executor of one loaded artifact (key: "tfmbs" and the machine configuration), so the
segments of one artifact share SRAM (the compiler allocated Bank A across all of them) and
two loaded artifacts never do. Without a `devices` dict the executor keeps a private one.
Weights of `resident` layers are loaded on the first call and stay (their DMA is counted in
the first call's profile only).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.tfmbs import actquant, fastpath, fastrun, kernels, profile, replay
from tsuc.runtime.tfmbs.fabric import Fabric
from tsuc.runtime.tfmbs.fused import FusedParts
from tsuc.runtime.tfmbs.host_ops import epilogue
from tsuc.runtime.tfmbs.layer import CONFIG_VERSION, Layer, load_segment  # noqa: F401  (CONFIG_VERSION: the format read)
from tsuc.runtime.tfmbs.machine import FabricConfig
from tsuc.runtime.tfmbs.options import TfmbsParams
from tsuc.runtime.tfmbs.schedule import Counters
from tsuc.runtime.tfmbs.values import Values


class TfmbsSegment(SegmentExecutor):
    kind = "tfmbs"
    params = TfmbsParams

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        where = f"{artifact.path}: tfmbs segment {self.name!r}"
        self._fused: FusedParts | None = None
        if "fused" in spec.get("config", {}):
            self._fused = FusedParts(spec, artifact, where)
            self.config = self._fused_machine(spec, where)
            self.layers = self._fused.layers
        else:
            seg = load_segment(spec, artifact, where)
            self.config, self.encoding, self.outputs, self.layers = seg.machine, seg.encoding, seg.outputs, seg.layers
            self.n_inputs = seg.n_inputs
        self._devices = self.devices
        self._nchw_outputs = self._outputs_read_as_nchw()
        self._readers = self._level_readers()
        self._device_key = ("tfmbs", tuple(sorted(self.config.to_dict().items())))
        self._blas = fastrun.BlasThreads()
        self._calls = 0
        self._last: list[fastrun.CallRecord] = []
        self._last_first_call = False
        self._last_mode = "fast"
        self._profile_cache: dict[str, Any] | None = None
        self._replayed_preload: Counters | None = None
        self._device_loaded = False  # this segment's resident weights are in the device model's SRAM
        # One call at a time: the fast path reuses per-layer work arrays and onnxruntime
        # bindings from call to call, and a profile reads the last call's arrays lazily.
        self._lock = threading.RLock()

    def warm_up(self) -> None:
        """Load-time set-up of the default fast path, so the first run costs what a later one
        does: numba's kernels compiled (or read from its cache), and every 8-bit layer's
        weights unpacked from PT-5 into its onnxruntime session, run once on one zero row
        (onnxruntime sizes its buffers on a first run). Nothing is computed that a run would
        reuse as a result."""
        if self._fused is not None:
            return
        kernels.warm_up()
        threads = fastpath.cpu_threads()
        for layer in self.layers:
            if layer.int8_ok() and not layer.plan.may_overflow(self.config):
                layer.int_products(threads)(np.full((1, layer.plan.k), fastpath.LEVEL_ZERO, np.uint8))

    def _outputs_read_as_nchw(self) -> set[int]:
        """Layers whose output only leaves the segment (no later layer reads it): the fast
        path's epilogue writes those NCHW rather than channels-last."""
        if self._fused is not None:
            return set()
        read = {layer.input for layer in self.layers} | {layer.post_residual for layer in self.layers}
        return {i for i in range(len(self.layers)) if f"L{i}" in self.outputs and f"L{i}" not in read}

    def _level_readers(self) -> dict[int, Layer]:
        """For each layer, the first later layer that reads its output in the same layout
        (channels-last convolutions, or rows) and quantises it with act_trits > 1 in 8 bits:
        the fast path's epilogue makes that reader's levels in the same kernel call."""
        if self._fused is not None:
            return {}
        out: dict[int, Layer] = {}
        for i, layer in enumerate(self.layers):
            for later in self.layers[i + 1:]:
                if later.input == f"L{i}":
                    if (later.int8_ok() and later.plan.act_trits > 1 and i not in self._nchw_outputs
                            and (later.conv is None) == (layer.conv is None)):
                        out[i] = later
                    break
        return out

    @staticmethod
    def _fused_machine(spec: dict[str, Any], where: str) -> FabricConfig:
        try:
            return FabricConfig.from_dict(spec["config"]["machine"])
        except (KeyError, TypeError, ValueError, TsucError) as e:
            raise ArtifactError(f"{where} has a malformed machine ({e})") from None

    @property
    def fabric(self) -> Fabric:
        """The device model this segment drives in replay (shared by the artifact's segments)."""
        fab = self._devices.get(self._device_key)
        if fab is None:
            fab = self._devices[self._device_key] = Fabric(self.config)
        return fab

    # -- running ----------------------------------------------------------------------------

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        with self._lock:
            return self._run(feeds, params)

    def _run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        mode = params.get("mode") or "fast"
        products = params.get("products") or "auto"
        if products == "int8":
            if not kernels.AVAILABLE:
                raise TsucError("parameter tfmbs.products=int8 needs numba (pip install 'tsuc[tfmbs]')")
            bad = next((layer for layer in self.layers if not layer.int8_ok()), None)
            if bad is not None:
                raise TsucError(f"parameter tfmbs.products=int8 does not apply to tfmbs layer {bad.plan.name!r} "
                                f"(act_trits={bad.plan.act_trits}: 8-bit levels need act_trits <= {fastpath.INT8_MAX_ACT_TRITS})")
        threads = int(params.get("threads") or 0) or fastpath.cpu_threads()
        # A call that fails leaves no profile: the fast path's records read the layers' work
        # arrays (`Layer.scratch`) lazily, and a failed call has overwritten some of them.
        self._last, self._profile_cache = [], None
        if self._fused is not None:
            return self._run_fused(feeds, params, mode, products, threads)
        env = Values()
        for i, n in enumerate(self.spec["inputs"]):
            env[f"arg{i}"] = np.asarray(feeds[n], dtype=np.float32)  # what every path quantises and adds (act_trits=1: the mean)
        first = self._calls == 0
        fab = self.fabric if mode == "replay" else None
        self._replayed_preload = None
        if fab is not None and not self._device_loaded:
            # resident weights go into SRAM once; after fast calls (which the device model did
            # not see) the load belongs to the artifact's first call, not to this one's counters
            before = Counters.of_fabric(fab)
            replay.preload(fab, self.layers)
            if first:
                self._replayed_preload = replay.difference(Counters.of_fabric(fab), before)
            self._device_loaded = True
        records = self._run_layers(env, fab, products, threads)
        self._calls += 1
        self._last, self._last_first_call, self._last_mode = records, first, mode
        self._profile_cache = None
        return {name: env[src] for name, src in zip(self.spec["outputs"], self.outputs)}

    def _run_fused(self, feeds: dict[str, np.ndarray], params: dict[str, Any], mode: str, products: str,
                   threads: int) -> dict[str, np.ndarray]:
        """One session call (fast mode, 8-bit products), else the parts one by one."""
        fused = self._fused
        assert fused is not None
        first = self._calls == 0
        self._replayed_preload = None
        if mode == "fast" and products != "blas" and not params.get("threads"):
            outs = fused.run(feeds)
            self._last = fused.records  # computed when a profile asks
        else:
            env = dict(feeds)
            records: list[fastrun.CallRecord] = []
            preload: Counters | None = None
            for k, part in enumerate(fused.parts):
                unit = fused.unit(k, self._devices)
                if part["kind"] == "tfmbs":
                    unit._calls = self._calls  # the artifact's first call is every part's first call
                    env.update(unit.run({n: env[n] for n in part["inputs"]}, params))
                    records.extend(unit._last)
                    if unit._replayed_preload is not None:
                        if preload is None:
                            preload = Counters(self.config.tiles, self.config.lanes)
                        preload += unit._replayed_preload
                else:
                    env.update(unit.run({n: env[n] for n in part["inputs"]}, {}))
            outs = {n: env[n] for n in fused.outputs}
            self._last = records
            self._replayed_preload = preload
        self._calls += 1
        self._last_first_call, self._last_mode = first, mode
        self._profile_cache = None
        return {n: outs[n] for n in self.spec["outputs"]}

    def _records(self) -> list[fastrun.CallRecord]:
        if callable(self._last):  # a fused call: its levels are fetched now
            self._last = self._last()
        return self._last

    def _run_layers(self, values: Values, fab: Fabric | None, products: str, threads: int) -> list[fastrun.CallRecord]:
        records = []
        for i, layer in enumerate(self.layers):
            shape = values.shape(layer.input)
            if not layer.accepts(shape):
                want = "x".join("?" if d < 0 else str(d) for d in layer.in_shape)
                raise TsucError(f"tfmbs layer {layer.plan.name!r} got an input of shape {shape}, compiled for {want}")
            if fab is None and products != "blas" and layer.int8_ok() and not layer.plan.may_overflow(self.config):
                records.append(fastrun.run_int8(layer, values, f"L{i}", threads, nchw_out=i in self._nchw_outputs,
                                                returned=f"L{i}" in self.outputs, reader=self._readers.get(i)))
                continue
            x = values[layer.input]
            if x.dtype != np.float32:
                x = x.astype(np.float32)
            if fab is not None:
                levels, s = actquant.quantize(x, layer.plan.act_trits)
                rec = fastrun.CallRecord(levels, s, layer.rows_of(x.shape))
                q, rec.replayed = replay.replay_products(fab, layer, levels)
                y = layer.shape_output(epilogue(q, layer.scales, s, layer.alpha, layer.bias), layer.out_shape_of(x.shape))
            elif layer.plan.may_overflow(self.config):
                y, rec = fastrun.run_wrapped(layer, x, self.config, threads, self._blas)
            else:
                y, rec = fastrun.run_blas(layer, x, threads, self._blas)
            values[f"L{i}"] = layer.apply_post(y, values)  # the folded residual Add / Relu (option fold)
            records.append(rec)
        return records

    # -- profile, trace, inspect ---------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        with self._lock:
            if not self._last:
                return {}
            if self._profile_cache is None:
                self._profile_cache = profile.segment_profile(self.config, self.layers, self._records(),
                                                              first_call=self._last_first_call, mode=self._last_mode,
                                                              replayed_preload=self._replayed_preload)
            return self._profile_cache

    def profile_detailed(self) -> dict[str, Any]:
        """The last call in the seed's `Fabric.profile_detailed()` form."""
        p = self.profile()
        if not p:
            return {}
        return {"cycles": p["cycles"], "utilization": p["utilization"], "skips": p["skips_per_lane"],
                "burst_wait_cycles": p["burst_wait_cycles"], "overflow_flags": p["overflow_flags"],
                "active_cycles": p["active_cycles_per_lane"]}

    def simulated_us(self) -> float | None:
        prof = self.profile()
        return prof["cycles"] / self.config.clock_hz * 1e6 if prof else None

    def trace_events(self, pid: int, t0_us: float) -> list[dict[str, Any]]:
        """Chrome/Perfetto trace of the last call on process `pid` from `t0_us`: frames per
        tile (one track per tile) and DMA bursts (one more track), in fabric time. Layers with
        more than `profile.FRAME_EVENTS_MAX` frames show as one event per tile."""
        with self._lock:
            prof = self.profile()
            if not prof:
                return []
            events, _end = profile.trace_events(self.config, self.layers, self._records(), prof,
                                                t0_us * self.config.clock_hz / 1e6, pid)
            return events

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        """Lines for `tsuc inspect`: machine, SRAM use, and per layer its tile map and sparsity."""
        return profile.describe_lines(spec)

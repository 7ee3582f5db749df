"""`HologramSegment`: runs a hologram segment's fused kernels on one preallocated class pool.

At load: one `Pool` per loaded artifact (96 classes + the linear pool, 64-byte aligned), kept
in the Executable's `devices` and shared by its hologram segments (the compiler placed their
buffers in one pool: constants disjoint, activations reused from segment to segment);
every placed buffer is a view into it; constants are copied into their views once. Each
kernel's op list becomes steps (`plan.py`): runs of elementwise ops are groups run by the
compiled block interpreter (`compiled.py`), their intermediates in registers; transposes and
reshape copies are one-load groups; softmax, reductions and gemm (BLAS) are compiled steps;
consecutive compiled steps share one numba call (`compiled.run_program`), a group of more
than `PARALLEL_WORK` element-ops is split over two threads. Values materialised between
steps without a place of their own live in one scratch arena, reused by liveness. Without
numba every op is a numpy closure (`kernels.compile_step`). The cost model prices every
kernel once (`machine.kernel_cost`) from the IR's op list: shapes are static, and how the
host executes a kernel does not change what the engine is charged.

At run: segment inputs are bound by reference (no copy; their place in the pool is where
the modelled engine holds them), outputs are written by their last op straight into fresh
arrays handed to the caller (no copy out), everything between kernels goes through the pool.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.hologram import compiled, plan
from tsuc.runtime.hologram.kernels import _prod, compile_step, work_rows
from tsuc.runtime.hologram.machine import Machine, kernel_cost, op_counts
from tsuc.runtime.hologram.pool import Pool, aligned_bytes

CONFIG_VERSION = 2  # 2: places are artifact-wide (one pool for all hologram segments)
POOL_KEY = "hologram.pool"  # the artifact's pool in the loading Executable's `devices`
PARALLEL_WORK = 1 << 20  # element-ops of a group above which its blocks are split over the threads
_QUIET = {"gemm", "reshape", "transpose", "softmax", "log_softmax"}  # numpy steps that raise no FP warnings


def _quietly(fn: Any) -> Any:
    """`fn` with numpy's floating-point warnings off (overflow and NaN are results here, as on the engine)."""
    def step(bufs: list) -> None:
        with np.errstate(all="ignore"):
            fn(bufs)
    return step


_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsuc-hologram")  # the second core's half of a big group


def _threads() -> int:
    return min(2, os.cpu_count() or 1)


def _pad(n: int) -> tuple:
    """Dummy arrays that fill the run-time operand tuple to a power of two (few specialisations)."""
    size = 1
    while size < max(n, 1):
        size *= 2
    return tuple(np.zeros(1, np.float32) for _ in range(size))


def _bsize(g: plan.Group) -> int:
    """Elements per block: the group's registers stay within about 32 KiB (L1)."""
    return 1024 if g.nslots <= 8 else 512 if g.nslots <= 16 else 256


class HologramSegment(SegmentExecutor):
    kind = "hologram"

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None,
                 compiled_kernels: bool = True) -> None:
        super().__init__(spec, artifact, devices)
        cfg = spec.get("config", {})
        if cfg.get("version") != CONFIG_VERSION:
            raise ArtifactError(f"{artifact.path}: hologram segment {self.name!r} has config version {cfg.get('version')!r}, this runtime reads {CONFIG_VERSION}")
        try:
            self.machine = Machine.from_dict(cfg["machine"])
            self.values: list[dict[str, Any]] = cfg["values"]
            self.kernels: list[dict[str, Any]] = cfg["kernels"]
            self.input_ids: list[int] = cfg["inputs"]
            self.output_ids: list[int] = cfg["outputs"]
            self.stats: dict[str, Any] = cfg["stats"]
        except (KeyError, TypeError):
            raise ArtifactError(f"{artifact.path}: hologram segment {self.name!r} has a malformed config") from None
        self.compiled = compiled_kernels
        linear = int(self.stats.get("linear_bytes", 0))
        self.pool = self.devices.get(POOL_KEY)
        if self.pool is None:  # one pool per loaded artifact: its segments' places are disjoint in time
            self.pool = self.devices[POOL_KEY] = Pool(linear)
        elif self.pool.linear_bytes != linear:
            raise ArtifactError(f"{artifact.path}: hologram segment {self.name!r} names a {linear}-byte linear pool, "
                                f"another segment {self.pool.linear_bytes} B")
        self._pool_f32 = self.pool.memory.view(np.float32)
        self.bufs: list[Any] = [None] * len(self.values)
        for k, v in enumerate(self.values):
            if v["place"] is not None:
                self.bufs[k] = self.pool.view(v["place"], v["shape"])
        for vid, member in cfg.get("constants", {}).items():
            array = artifact.array(member)
            target = self.bufs[int(vid)]
            if target is None or target.shape != array.shape:
                raise ArtifactError(f"{artifact.path}: hologram constant {member!r} does not match its buffer")
            np.copyto(target, array)
        self._produced = {op["out"] for kern in self.kernels for op in kern["ops"]}
        self._ins = [(name, vid, tuple(self.values[vid]["shape"])) for name, vid in zip(self.spec["inputs"], self.input_ids)]
        self._outs = []
        for name, vid in zip(self.spec["outputs"], self.output_ids):
            first = vid in self._produced and all(o[1] != vid for o in self._outs)
            shape = tuple(self.values[vid]["shape"])
            self._outs.append((name, vid, shape, "bound" if first else "copy", _prod(shape)))
        self._placed = [(o[1], self.bufs[o[1]]) for o in self._outs if o[3] == "bound"]
        self._bound_ids = set(self.input_ids) | set(self.output_ids)
        self._flat_ids = set(self.input_ids) | {o[1] for o in self._outs if o[3] == "bound"}
        self.flat: list[Any] = [None] * len(self.values)  # run-time inputs and outputs, flattened once per run
        self.steps, self._register_only = self._plan()
        self._view_ids = self._assign_scratch()
        self._static_views: set[int] = set()
        self._view_src: dict[int, int] = {}  # run-time views (reshapes of inputs or outputs) -> their source
        self.program = self._compile_program()

        self.costs = [self._kernel_cost(kern) for kern in self.kernels]

    # -- load-time preparation -------------------------------------------------------------

    def _plan(self) -> tuple[list[Any], set[int]]:
        """Each kernel's ops as steps: compiled groups of elementwise ops (numba) and single ops;
        the values that live only in a group's registers (no buffer at all)."""
        steps: list[Any] = []
        for kern in self.kernels:
            steps += plan.split(kern["ops"], self.values) if compiled.HAVE_NUMBA and self.compiled else list(kern["ops"])
        readers: dict[int, set[int]] = {}
        for k, st in enumerate(steps):
            for op in (st.ops if isinstance(st, plan.Group) else [st]):
                for i in op["in"]:
                    readers.setdefault(i, set()).add(k)
        outputs = set(self.output_ids)
        register_only: set[int] = set()
        for k, st in enumerate(steps):
            if isinstance(st, plan.Group):
                stored = {v for v in st.produced if v in outputs or readers.get(v, set()) - {k}}
                plan.program(st, self.values, stored)
                register_only |= st.produced - stored
        return steps, register_only

    def _assign_scratch(self) -> set[int]:
        """Scratch buffers in one 64-byte aligned arena for materialised values without a place,
        reused once their last reader has run (a group is one step: its reads and writes all
        happen during it, so no two of its values share an array).

        A reshape of an unplaced value is a view of it (no array of its own), so the array
        behind it stays taken while any view of it is live. Returns the ids that are views."""
        root: dict[int, int] = {}
        views: set[int] = set()
        outputs = set(self.output_ids)
        timed = [(t, op) for t, st in enumerate(self.steps) for op in (st.ops if isinstance(st, plan.Group) else [st])]
        for _, op in timed:
            o = op["out"]
            if self.values[o]["place"] is None and o not in outputs and o not in self._register_only:
                if op["op"] == "reshape":
                    views.add(o)
                    src = op["in"][0]
                    if src in root:  # a view of a scratch array keeps it taken
                        root[o] = root[src]
                else:
                    root[o] = o
        last: dict[int, int] = {}
        for t, op in timed:
            for i in op["in"]:
                if i in root:
                    last[root[i]] = max(last.get(root[i], t), t)
            if op["out"] in root:
                last[root[op["out"]]] = max(last.get(root[op["out"]], t), t)
        free: dict[tuple, list[int]] = {}
        live: list[tuple[int, int, tuple, int]] = []  # (last use, id, shape, arena offset)
        where: dict[int, int] = {}
        top = 0
        for t in range(len(self.steps)):
            for tt, op in timed:
                o = op["out"]
                if tt != t or root.get(o) != o:
                    continue
                shape = tuple(self.values[o]["shape"])
                pool = free.get(shape)
                if pool:
                    where[o] = pool.pop()
                else:
                    where[o] = top
                    top += -(-max(_prod(shape), 1) // 16) * 16  # 64-byte aligned starts
                live.append((last[o], o, shape, where[o]))
            still = []
            for end, vid, shape, off in live:
                if end <= t:
                    free.setdefault(shape, []).append(off)
                else:
                    still.append((end, vid, shape, off))
            live = still
        self.arena = aligned_bytes(4 * max(top, 16)).view(np.float32)
        for o, off in where.items():
            shape = tuple(self.values[o]["shape"])
            self.bufs[o] = self.arena[off:off + _prod(shape)].reshape(shape)
        return views

    def _address(self, vid: int, dynamic: list[int]) -> tuple[int, int]:
        """(base id, offset in elements) of a buffer for the compiled interpreter: 0 the pool,
        1 the arena, 2 + k the k-th array bound at run time (inputs, outputs, views of them)."""
        while vid in self._view_src:  # a view of an input or output: the same memory, from offset 0
            vid = self._view_src[vid]
        buf = self.bufs[vid]
        if self._static(vid):
            for bid, mem in ((0, self._pool_f32), (1, self.arena)):
                if np.shares_memory(buf, mem):
                    off = buf.__array_interface__["data"][0] - mem.__array_interface__["data"][0]
                    return bid, off // 4
        if vid not in dynamic:
            dynamic.append(vid)
        return 2 + dynamic.index(vid), 0

    def _static(self, vid: int) -> bool:
        """Whether `vid`'s buffer is the same array on every run (not an input, output or view of one)."""
        return (self.bufs[vid] is not None and vid not in self._bound_ids
                and (vid not in self._view_ids or vid in self._static_views))

    def _compile_program(self) -> list[Any]:
        """The run's callables: consecutive compiled steps share one `compiled.run_program`
        call; numpy steps (and, without numba, every step) are closures of their own."""
        use = compiled.HAVE_NUMBA and self.compiled
        program: list[Any] = []
        prelude: list[Any] = []  # views of inputs and outputs: made first, so they split no batch
        batch: list[tuple[int, Any]] = []

        def flush() -> None:
            if batch:
                program.append(self._merged(list(batch)))
                batch.clear()

        for step in self.steps:
            if isinstance(step, dict) and step["op"] == "reshape" and step["out"] in self._view_ids:
                if self._static(step["in"][0]):  # a view of a scratch buffer: made once, here
                    self.bufs[step["out"]] = self.bufs[step["in"][0]].reshape(self.values[step["out"]]["shape"])
                    self._static_views.add(step["out"])
                    continue
                self._view_src[step["out"]] = step["in"][0]
                if use:  # its root is an input or output, bound before any step runs
                    prelude.append(compile_step(step, self.values, True))
                else:
                    program.append(compile_step(step, self.values, True))
                continue
            sub = self._sub(step) if use else None
            if sub == "empty":
                continue
            if sub is None:
                flush()
                fn = compile_step(step, self.values, False)
                program.append(fn if step["op"] in _QUIET else _quietly(fn))
            elif sub == "big":
                flush()
                program.append(self._parallel(step))
            else:
                batch.append(sub)
        flush()
        return prelude + program

    def _sub(self, step: Any) -> Any:
        """(kind, build) for `compiled.run_program`, where build(dynamic) gives the step's int64
        parameters and float constants; None: a numpy step; "big": a group for two threads."""
        if isinstance(step, dict) and step["op"] in ("transpose", "reshape"):
            step = plan.move(step, self.values)
        if isinstance(step, plan.Group):
            g = step
            if g.total == 0:
                return "empty"
            if g.nd > compiled.MAXD:  # pragma: no cover - more than 8 dimensions after coalescing
                return None
            if g.total * len(g.ops) >= PARALLEL_WORK and -(-g.total // _bsize(g)) >= 4 and _threads() > 1:
                return "big"

            def build_group(dynamic: list[int]) -> tuple[np.ndarray, np.ndarray]:
                tab = plan.table(g, [self._address(v, dynamic) for v, _ in g.operands])
                return compiled.pack(g.code, tab, g.gshape, g.nd, g.total, g.nslots, _bsize(g)), g.fp
            return compiled.SUB_GROUP, build_group
        op = step
        name, ins, o = op["op"], op["in"], op["out"]
        none = np.zeros((0, 2), np.float32)
        shape_in = [int(d) for d in self.values[ins[0]]["shape"]] if ins else []
        if name in ("softmax", "log_softmax"):
            axis = int(op["attrs"]["axis"]) % max(len(shape_in), 1)
            n = shape_in[axis] if shape_in else 1
            outer, inner = _prod(shape_in[:axis]), _prod(shape_in[axis + 1:])
            if outer * n * inner == 0:
                return "empty"

            def build_softmax(dynamic: list[int]) -> tuple[list[int], np.ndarray]:
                return [*self._address(ins[0], dynamic), *self._address(o, dynamic), outer, n, inner,
                        int(name == "log_softmax")], none
            return compiled.SUB_SOFTMAX, build_softmax
        if name in compiled.REDUCE_KINDS:
            dims = plan.reduce_dims(shape_in, op["attrs"]["axes"])
            if dims is None or 0 in dims:
                return None

            def build_reduce(dynamic: list[int]) -> tuple[list[int], np.ndarray]:
                return [*self._address(ins[0], dynamic), *self._address(o, dynamic), compiled.REDUCE_KINDS[name],
                        *dims], none
            return compiled.SUB_REDUCE, build_reduce
        if name == "gemm":
            dims = plan.gemm_dims(shape_in, self.values[ins[1]]["shape"])
            if dims is None or 0 in dims[:4]:
                return None

            def build_gemm(dynamic: list[int]) -> tuple[list[int], np.ndarray]:
                return [*self._address(ins[0], dynamic), *self._address(ins[1], dynamic), *self._address(o, dynamic),
                        *dims], none
            return compiled.SUB_GEMM, build_gemm
        return None

    def _merged(self, subs: list[tuple[int, Any]]) -> Any:
        dynamic: list[int] = []
        header: list[int] = [len(subs)]
        bodies: list[np.ndarray] = []
        fps: list[np.ndarray] = []
        pos, row = 1 + 3 * len(subs), 0
        for kind, build in subs:
            body, fp = build(dynamic)
            body = np.asarray(body, np.int64)
            header += [kind, pos, row]
            bodies.append(body)
            fps.append(fp)
            pos += len(body)
            row += len(fp)
        prog = np.concatenate([np.array(header, np.int64), *bodies])
        fp = np.concatenate(fps + [np.zeros((1, 2), np.float32)]).astype(np.float32)
        args = (prog, fp, self._pool_f32, self.arena)
        pad, n, flat = _pad(len(dynamic)), len(dynamic), self.flat
        if not dynamic:
            return lambda bufs: compiled.run_program(*args, pad)
        if all(v in self._flat_ids for v in dynamic):  # inputs and outputs: flattened once per run
            return lambda bufs: compiled.run_program(*args, tuple([flat[v] for v in dynamic]) + pad[n:])
        return lambda bufs: compiled.run_program(*args, tuple([bufs[v].reshape(-1) for v in dynamic]) + pad[n:])

    def _parallel(self, g: plan.Group) -> Any:
        """A big group's blocks in two halves, one on a pool thread (numba releases the GIL)."""
        dynamic: list[int] = []
        tab = plan.table(g, [self._address(v, dynamic) for v, _ in g.operands])
        bsize = _bsize(g)
        nblocks = -(-g.total // bsize)
        args = (compiled.pack(g.code, tab, g.gshape, g.nd, g.total, g.nslots, bsize), g.fp, self._pool_f32, self.arena)
        pad, n, half = _pad(len(dynamic)), len(dynamic), nblocks // 2

        def parallel(bufs: list) -> None:
            extras = tuple([bufs[v].reshape(-1) for v in dynamic]) + pad[n:]
            other = _POOL.submit(compiled.run_chain, *args, extras, half, nblocks)
            compiled.run_chain(*args, extras, 0, half)
            other.result()
        return parallel

    def _kernel_cost(self, kern: dict[str, Any]) -> dict[str, float]:
        linear = 0
        for vid in list(kern["ins"]) + list(kern["outs"]):
            place = self.values[vid]["place"]
            if place is not None and place[0] == "linear":
                linear += 4 * int(np.prod(self.values[vid]["shape"], dtype=np.int64))
        ops = []
        for op in kern["ops"]:
            work, rows = work_rows(op, self.values)
            ops.append({"op": op["op"], "work": work, "rows": rows})
        return kernel_cost(self.machine, ops, linear)

    # -- running -----------------------------------------------------------------------------

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        bufs, flat = self.bufs, self.flat
        for name, vid, shape in self._ins:
            x = feeds[name]
            if x.dtype != np.float32 or not x.flags.c_contiguous:
                x = np.ascontiguousarray(x, np.float32)
            if x.shape != shape:
                raise TsucError(f"hologram segment {self.name!r}: input {name!r} has shape {list(x.shape)}, expected {list(shape)}")
            bufs[vid] = x
            flat[vid] = x.reshape(-1)
        results: dict[str, np.ndarray] = {}
        for name, vid, shape, how, size in self._outs:  # produced outputs are written in place by their op
            if how == "bound":
                flat[vid] = out = np.empty(size, np.float32)
                results[name] = bufs[vid] = out.reshape(shape)
        for step in self.program:
            step(bufs)
        for name, vid, shape, how, _ in self._outs:
            if how == "copy":  # a segment input or constant handed straight back, or a value's second name
                results[name] = np.array(bufs[vid], np.float32)
        for vid, view in self._placed:
            bufs[vid] = view
        return results

    # -- hooks -------------------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        cycles = sum(c["cycles"] for c in self.costs)
        return {
            "kernels": len(self.kernels),
            "ops_original": self.stats["ops_original"],
            "ops_canonical": self.stats["ops_canonical"],
            "reduction_pct": self.stats["reduction_pct"],
            "classes_used": self.stats["classes_used"],
            "spill_bytes": self.stats["spill_bytes"],
            "cycles": cycles,
            "energy_j": sum(c["energy_j"] for c in self.costs),
            "lane_ops": sum(c["lane_ops"] for c in self.costs),
            "linear_bytes_moved": sum(c["linear_bytes"] for c in self.costs),
            "sim_time_s": cycles / (self.machine.clock_mhz * 1e6),
        }

    def op_counters(self) -> dict[str, int]:
        """Lane-ops by step kind, reduction-tree outputs and op count, from the static shapes
        (what the cost model prices; the reference interpreter counts the same from arrays)."""
        total = {"s": 0, "d": 0, "t": 0, "trees": 0, "ops": 0}
        for kern in self.kernels:
            for op in kern["ops"]:
                work, rows = work_rows(op, self.values)
                for k, v in op_counts(op["op"], work, rows).items():
                    total[k] += v
                total["ops"] += 1
        return total

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        s = spec.get("config", {}).get("stats", {})
        try:
            return [f"hologram: {s['kernels']} kernel(s), {s['ops_canonical']} op(s) ({s['ops_original']} before "
                    f"canonicalisation, {s['reduction_pct']}% fewer), {s['classes_used']} class(es), {s['spill_bytes']} B spilled"]
        except (KeyError, TypeError):
            return ["(malformed hologram config)"]

    def simulated_us(self) -> float | None:
        return sum(c["cycles"] for c in self.costs) / self.machine.clock_mhz

    def trace_events(self, pid: int, t0_us: float) -> list[dict[str, Any]]:
        """One event per kernel of the last run, in engine time from `t0_us`."""
        events: list[dict[str, Any]] = [{"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                                         "args": {"name": f"{self.name} kernels"}}]
        ts = t0_us
        us_per_cycle = 1.0 / self.machine.clock_mhz
        for kern, cost in zip(self.kernels, self.costs):
            dur = cost["cycles"] * us_per_cycle
            events.append({"name": kern["name"], "cat": "hologram.kernel", "ph": "X", "pid": pid, "tid": 0, "ts": ts,
                           "dur": dur, "args": {"ops": len(kern["ops"]), "cycles": cost["cycles"]}})
            ts += dur
        return events

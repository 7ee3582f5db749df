"""Frame schedules: how one layer's GEMV becomes frames, DMA bursts and counters.

A layer computes acc[m, n] = sum_k W[p, n, k] * x_j[m, k] for every weight plane p and
activation trit plane j. The fabric runs it as frames (design/tfmbs.md):

- outputs N in *groups* of tiles*lanes (60): group g covers rows g*60 .. g*60+59, tile t of
  the group rows g*60 + t*15 + (0..14). A group with one tile runs `lane_count` = its rows;
  a group spanning several tiles runs 15 lanes on each (the last tile's padding lanes
  compute on zero weights, as the seed pads N to a multiple of 15);
- the reduction K in *chunks* of at most `bank_words` (1024), chained with BIAS_EN;
- one frame per input row, per activation trit plane and per weight plane.

Frames of one row run in the order j, g, p, c; the chain of chunks c for one (j, g, p) is
contiguous (it shares the accumulators), and its results are read after its last chunk.

Where the data sits (chosen at compile time by `tfmbs-allocate`, stored in the plan):
- `resident`: the layer's blocks stay in Bank A for the life of the executor (loaded on the
  first call); block (g, p, c) at word a_base + (g*P + p)*K + k0 of every tile of group g.
- `group`: per call, group g's blocks (P*K words per tile) are loaded into the stream window
  at a_base once, then every row runs against them: loop order g, m, j, p, c.
- `frame`: each frame's block is loaded into the window right before the frame; order m, j, g, p, c.
Inputs, broadcast to every Bank B (once per row, or per (g, row) in `group` mode):
- when all J trit planes of a row fit (J*K <= bank_words): one burst of J*K words, plane j
  at Bank B word j*K, so a row costs one DMA latency, not J; each frame's `input_addr`
  points at its plane (a nonzero Bank B offset for j > 0);
- else, when K fits: one burst of K words per (row, j) at word 0;
- else each frame loads its own chunk at word 0.
Lanes: every frame's `lane_count` is the machine's lanes and `lane_mask` enables the lanes
that hold outputs: all of them except in a last group narrower than one tile.

`commands` spells this out step by step (what the replay executor drives a `Fabric` with);
`layer_counters` gives the same counters in closed form, from the nonzero-count matrix of the
layer, in O(P*N*K) whatever the number of rows. Tests hold the two to exact equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError
from tsuc.runtime.tfmbs.machine import WORD_BYTES, FabricConfig
from tsuc.runtime.tfmbs.tfd import (
    PT5,
    TFD,
    TFD_FIELDS,
    TFD_VERSION,
    exec_hints,
)

MODES = ("resident", "group", "frame")


@dataclass(frozen=True)
class Group:
    n0: int
    rows: int
    tiles: int
    lane_count: int

    @property
    def tile_mask(self) -> int:
        return (1 << self.tiles) - 1

    @property
    def lanes_active(self) -> int:
        return self.tiles * self.lane_count


@dataclass(frozen=True)
class Chunk:
    k0: int
    depth: int


def make_groups(n: int, cfg: FabricConfig) -> list[Group]:
    out = []
    per = cfg.outputs_per_frame
    for n0 in range(0, n, per):
        rows = min(per, n - n0)
        tiles = -(-rows // cfg.lanes)
        out.append(Group(n0, rows, tiles, rows if tiles == 1 else cfg.lanes))
    return out


def make_chunks(k: int, cfg: FabricConfig) -> list[Chunk]:
    return [Chunk(k0, min(cfg.bank_words, k - k0)) for k0 in range(0, k, cfg.bank_words)]


def union_tile_mask(n: int, cfg: FabricConfig) -> int:
    return (1 << min(cfg.tiles, -(-n // cfg.lanes))) - 1


@dataclass(frozen=True)
class LayerPlan:
    """Everything the runtime needs to know about one layer's frames (JSON in the artifact)."""

    name: str
    n: int
    k: int
    w_planes: int
    act_trits: int
    mode: str = "frame"
    a_base: int = 0
    zero_skip: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(entry: dict[str, Any]) -> LayerPlan:
        try:
            plan = LayerPlan(str(entry["name"]), int(entry["n"]), int(entry["k"]), int(entry["w_planes"]),
                             int(entry["act_trits"]), str(entry["mode"]), int(entry["a_base"]), bool(entry["zero_skip"]))
        except (KeyError, TypeError, ValueError):
            raise ArtifactError("a tfmbs layer plan in the artifact is malformed") from None
        if plan.mode not in MODES or min(plan.n, plan.k, plan.w_planes, plan.act_trits) < 1 or plan.a_base < 0:
            raise ArtifactError(f"tfmbs layer plan {plan.name!r} has invalid values")
        return plan

    # -- geometry ---------------------------------------------------------------------------

    def groups(self, cfg: FabricConfig) -> list[Group]:
        return make_groups(self.n, cfg)

    def chunks(self, cfg: FabricConfig) -> list[Chunk]:
        return make_chunks(self.k, cfg)

    def footprint(self, cfg: FabricConfig) -> int:
        """Bank A words per tile if resident (tile 0 takes part in every group)."""
        return self.w_planes * self.k * len(self.groups(cfg))

    def window(self, cfg: FabricConfig) -> int:
        """Bank A words per tile the mode needs in the stream window (0 if resident)."""
        if self.mode == "resident":
            return 0
        if self.mode == "group":
            return self.w_planes * self.k
        return max(c.depth for c in self.chunks(cfg))

    def inputs_fit(self, cfg: FabricConfig) -> bool:
        return self.k <= cfg.bank_words

    def row_fits(self, cfg: FabricConfig) -> bool:
        """Do all trit planes of one input row fit in Bank B together (one burst per row)?"""
        return self.act_trits * self.k <= cfg.bank_words

    def block_word(self, g: int, p: int, c: Chunk) -> int:
        if self.mode == "resident":
            return self.a_base + (g * self.w_planes + p) * self.k + c.k0
        if self.mode == "group":
            return self.a_base + p * self.k + c.k0
        return self.a_base

    def input_word(self, j: int, c: Chunk, cfg: FabricConfig) -> int:
        if self.row_fits(cfg):
            return j * self.k + c.k0
        return c.k0 if self.inputs_fit(cfg) else 0

    def frames_per_row(self, cfg: FabricConfig) -> int:
        return self.act_trits * len(self.groups(cfg)) * self.w_planes * len(self.chunks(cfg))

    def frame_index(self, j: int, g: int, p: int, c: int, cfg: FabricConfig) -> int:
        """Row of `tfd_table` of frame (j, g, p, c)."""
        G, C = len(self.groups(cfg)), len(self.chunks(cfg))
        return ((j * G + g) * self.w_planes + p) * C + c

    def may_overflow(self, cfg: FabricConfig) -> bool:
        """Can a chain of this layer's frames leave the accumulator's range? Each cycle adds
        -1, 0 or +1, so a chain over K reduction indices stays within [-K, K]."""
        return self.k > cfg.acc_range[1]

    def check(self, cfg: FabricConfig) -> None:
        """Refuse plans that do not fit the machine (a corrupt or mismatched artifact)."""
        end = self.a_base + (self.footprint(cfg) if self.mode == "resident" else self.window(cfg))
        if end > cfg.bank_words:
            raise ArtifactError(f"tfmbs layer {self.name!r} does not fit Bank A ({end} > {cfg.bank_words} words)")

    def tfd_table(self, cfg: FabricConfig) -> np.ndarray:
        """The frame descriptors of one input row as an int64 [frames, 11] table
        (`tfd.TFD_FIELDS` columns), in order j, g, p, c; built with numpy, no per-frame objects."""
        groups, chunks = self.groups(cfg), self.chunks(cfg)
        J, G, P, C = self.act_trits, len(groups), self.w_planes, len(chunks)
        j = np.repeat(np.arange(J), G * P * C)
        g = np.tile(np.repeat(np.arange(G), P * C), J)
        p = np.tile(np.repeat(np.arange(P), C), J * G)
        c = np.tile(np.arange(C), J * G * P)
        k0 = np.array([ch.k0 for ch in chunks], np.int64)[c]
        depth = np.array([ch.depth for ch in chunks], np.int64)[c]
        if self.mode == "resident":
            word = self.a_base + (g * P + p) * self.k + k0
        elif self.mode == "group":
            word = self.a_base + p * self.k + k0
        else:
            word = np.full(g.shape, self.a_base, np.int64)
        if self.row_fits(cfg):
            in_word = j * self.k + k0
        else:
            in_word = k0 if self.inputs_fit(cfg) else np.zeros_like(k0)
        lane_mask = np.array([(1 << grp.lane_count) - 1 for grp in groups], np.int64)[g]
        tile_mask = np.array([grp.tile_mask for grp in groups], np.int64)[g]
        hints = np.where(c > 0, exec_hints(bias_en=True, zero_skip=self.zero_skip), exec_hints(bias_en=False, zero_skip=self.zero_skip))
        n = g.size
        cols = [
            cfg.bank_a_addr(0) + WORD_BYTES * word, depth, np.full(n, PT5), np.full(n, cfg.lanes), np.ones(n, np.int64),
            np.zeros(n, np.int64), hints, np.full(n, TFD_VERSION), tile_mask, cfg.bank_b_addr(0) + WORD_BYTES * in_word,
            lane_mask,
        ]
        return np.stack([np.asarray(col, np.int64) for col in cols], axis=1).reshape(n, len(TFD_FIELDS))

    def tfds(self, cfg: FabricConfig) -> list[TFD]:
        return [TFD.from_row(r) for r in self.tfd_table(cfg)]


# -- the step-by-step program -------------------------------------------------------------------


def commands(plan: LayerPlan, cfg: FabricConfig, rows: int) -> Iterator[tuple]:
    """The layer's per-call program, step by step:

    ("x", m, j, k0, depth)   broadcast input row m into Bank B: j = None for all trit planes
                             of the row at once (J*K words, plane j at word j*K); else plane
                             j's x_j[m, k0:k0+depth] at word 0
    ("w", g, p, c)           load block (g, p, c) (c = None: all of group g's blocks) into
                             the stream window of every tile of group g
    ("frame", index)         submit TFD `index` of `plan.tfd_table()`
    ("read", m, j, g, p)     read group g's accumulators: acc for (m, j, g, p)
    """
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    P = plan.w_planes
    fit, row_fit = plan.inputs_fit(cfg), plan.row_fits(cfg)

    def frames(m, j, g):
        for p in range(P):
            for ci, c in enumerate(chunks):
                if not fit:
                    yield ("x", m, j, c.k0, c.depth)
                if plan.mode == "frame":
                    yield ("w", g, p, ci)
                yield ("frame", plan.frame_index(j, g, p, ci, cfg))
            yield ("read", m, j, g, p)

    def row(m, gs):
        if row_fit:
            yield ("x", m, None, 0, plan.act_trits * plan.k)
        for j in range(plan.act_trits):
            if fit and not row_fit:
                yield ("x", m, j, 0, plan.k)
            for g in gs:
                yield from frames(m, j, g)

    if plan.mode == "group":
        for g in range(len(groups)):
            yield ("w", g, None, None)
            for m in range(rows):
                yield from row(m, [g])
    else:
        all_groups = list(range(len(groups)))
        for m in range(rows):
            yield from row(m, all_groups)


def preload_bursts(plan: LayerPlan, cfg: FabricConfig) -> list[tuple[int, int, int]]:
    """(tile, Bank A word, words) of the one burst per tile that makes a resident layer resident."""
    if plan.mode != "resident":
        return []
    groups = plan.groups(cfg)
    span = plan.w_planes * plan.k
    out = []
    for t in range(cfg.tiles):
        count = sum(1 for grp in groups if t < grp.tiles)  # groups 0..count-1 use tile t
        if count:
            out.append((t, plan.a_base, count * span))
    return out


# -- counters in closed form ----------------------------------------------------------------------


@dataclass
class Counters:
    """Fabric counters of some work; `+=` adds two."""

    tiles: int
    lanes: int
    cycles: int = 0
    compute_cycles: int = 0
    burst_wait_cycles: int = 0
    dma_words: int = 0
    dma_bursts: int = 0
    frames: int = 0
    tile_cycles: int = 0
    active: np.ndarray = field(default=None)  # type: ignore[assignment]
    skips: np.ndarray = field(default=None)  # type: ignore[assignment]
    overflow: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        shape = (self.tiles, self.lanes)
        if self.active is None:
            self.active = np.zeros(shape, np.int64)
        if self.skips is None:
            self.skips = np.zeros(shape, np.int64)
        if self.overflow is None:
            self.overflow = np.zeros(shape, bool)

    def add_burst(self, cfg: FabricConfig, words: int, count: int = 1) -> None:
        if words and count:
            cost = cfg.dma_cycles(words) * count
            self.burst_wait_cycles += cost
            self.cycles += cost
            self.dma_words += words * count
            self.dma_bursts += count

    def __iadd__(self, other: Counters) -> Counters:
        for name in ("cycles", "compute_cycles", "burst_wait_cycles", "dma_words", "dma_bursts", "frames", "tile_cycles"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.active = self.active + other.active
        self.skips = self.skips + other.skips
        self.overflow = self.overflow | other.overflow
        return self

    @staticmethod
    def of_fabric(fab: Any) -> Counters:
        """The counters a `Fabric` holds (for comparing a replay with `layer_counters`)."""
        cfg = fab.config
        return Counters(cfg.tiles, cfg.lanes, fab.cycles, fab.compute_cycles, fab.burst_wait_cycles, fab.dma_words,
                        fab.dma_bursts, fab.frames, fab.tile_cycles, fab.active.copy(), fab.skips.copy(),
                        fab.overflow.copy())

    def same_as(self, other: Counters) -> bool:
        scalars = ("cycles", "compute_cycles", "burst_wait_cycles", "dma_words", "dma_bursts", "frames", "tile_cycles")
        return (all(getattr(self, s) == getattr(other, s) for s in scalars)
                and np.array_equal(self.active, other.active) and np.array_equal(self.skips, other.skips)
                and np.array_equal(self.overflow, other.overflow))


def preload_counters(plan: LayerPlan, cfg: FabricConfig) -> Counters:
    out = Counters(cfg.tiles, cfg.lanes)
    for _t, _word, words in preload_bursts(plan, cfg):
        out.add_burst(cfg, words)
    return out


def lane_slots(n: int, cfg: FabricConfig) -> np.ndarray:
    """For each output row n, its (tile, lane) slot index t*lanes + l (the same in every group)."""
    return np.arange(n) % cfg.outputs_per_frame


def layer_counters(plan: LayerPlan, cfg: FabricConfig, rows: int, nonskip: np.ndarray | None) -> Counters:
    """Counters of one call of the layer over `rows` input rows, in closed form.

    `nonskip` = over all frames, the cycles where neither the weight nor the input trit is
    zero: sum_d [W[p,n,d] != 0] * cnt[d], with cnt[d] the number of (row, trit plane) pairs
    whose trit d is nonzero. Either per plane and output, [P, N], or already summed into the
    tile x lane slot each output occupies, [tiles, lanes] (all the lane counters need).
    Unused when zero-skip is off.
    """
    groups, chunks = plan.groups(cfg), plan.chunks(cfg)
    P, J, K, G = plan.w_planes, plan.act_trits, plan.k, len(groups)
    out = Counters(cfg.tiles, cfg.lanes)
    rj = rows * J
    out.frames = rj * G * P * len(chunks)
    out.compute_cycles = rj * G * P * K
    out.cycles = out.compute_cycles
    sum_tiles = sum(grp.tiles for grp in groups)
    out.tile_cycles = rj * P * K * sum_tiles
    # inputs
    per_call = G if plan.mode == "group" else 1
    if plan.row_fits(cfg):
        out.add_burst(cfg, J * K, rows * per_call)
    elif plan.inputs_fit(cfg):
        out.add_burst(cfg, K, rj * per_call)
    else:
        for c in chunks:
            out.add_burst(cfg, c.depth, rj * G * P)
    # weights
    if plan.mode == "frame":
        for c in chunks:
            out.add_burst(cfg, c.depth, rj * P * sum_tiles)
    elif plan.mode == "group":
        out.add_burst(cfg, P * K, sum_tiles)
    # lanes
    per_lane = rj * P * K
    for grp in groups:
        out.active[: grp.tiles, : grp.lane_count] += per_lane
    if plan.zero_skip:
        if nonskip is None:
            raise ValueError("zero-skip counters need the nonzero counts")
        busy = np.asarray(nonskip, dtype=np.int64)
        if busy.shape != (cfg.tiles, cfg.lanes):  # [P, N] -> slots
            busy = np.bincount(lane_slots(plan.n, cfg), weights=busy.sum(axis=0), minlength=cfg.outputs_per_frame)
            busy = np.rint(busy).astype(np.int64).reshape(cfg.tiles, cfg.lanes)
        # Rows past N (padding lanes) have zero weights: every one of their cycles skips.
        out.skips = out.active - busy
    return out

"""The test oracle for the Ternary Fabric: a per-cycle machine written from design/tfmbs.md alone.

It shares no code with `tsuc.runtime.tfmbs` (nor with the compiler): it decodes the byte
address map, the TFD descriptor columns and exec_hints bits, and the PT-5 words itself, runs
every frame cycle by cycle, tile by tile and lane by lane in plain Python, models DMA (a
burst of n words costs latency + ceil(n / width) cycles, counted as burst waits; SRAM keeps
what was loaded, so resident weights stay) and keeps every counter the runtime reports:
cycles, compute and burst-wait cycles, frames, DMA words and bursts, tile cycles, and per
(tile, lane) active cycles, skips and sticky overflow bits.

`run_segment` drives it with a compiled tfmbs segment, read straight from the artifact zip
(its own `.npy` reading, its own PT-5 unpacking): SRAM images built lane-major from the
trits, the DMA program each schedule mode implies (from the design page and the schedule's
description), the stored descriptors submitted in their documented order (j, g, p, c), and
the host steps of `reference.py` (activation levels, balanced-ternary digits, im2col,
epilogue). Slow by design: small models only.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from tests.targets.tfmbs import reference as ref

BASE = 0x1000
# TFD columns, in the order design/tfmbs.md lists the seed's fields, then tsuc's two
BASE_ADDR, FRAME_LEN, PACKING, LANE_COUNT, LANE_STRIDE, FLAGS, HINTS, VERSION, TILE_MASK, INPUT_ADDR, LANE_MASK = range(11)
DOT, NOP = 1, 0


def _digit_to_trit(d: int, encoding: str) -> int:
    if encoding == "mod3":
        return (0, 1, -1)[d]
    return d - 1  # offset


class OracleFabric:
    """The machine, one cycle at a time."""

    def __init__(self, tiles=4, lanes=15, bank_words=1024, dma_words_per_cycle=1, dma_latency=16, acc_bits=32):
        self.tiles, self.lanes, self.bank_words = tiles, lanes, bank_words
        self.width, self.latency, self.acc_bits = dma_words_per_cycle, dma_latency, acc_bits
        self.bank_a = [[0] * bank_words for _ in range(tiles)]
        self.bank_b = [[0] * bank_words for _ in range(tiles)]
        self.acc = [[0] * lanes for _ in range(tiles)]
        self.cycles = self.compute_cycles = self.burst_wait_cycles = 0
        self.dma_words = self.dma_bursts = self.frames = self.tile_cycles = 0
        self.active = [[0] * lanes for _ in range(tiles)]
        self.skips = [[0] * lanes for _ in range(tiles)]
        self.overflow = [[False] * lanes for _ in range(tiles)]

    @classmethod
    def of(cls, machine: dict):
        return cls(int(machine["tiles"]), int(machine["lanes"]), int(machine["bank_words"]),
                   int(machine["dma_words_per_cycle"]), int(machine["dma_latency"]), int(machine["acc_bits"]))

    # address map: tile t's Bank A at 0x1000 + t * 2 * bank_bytes, its Bank B right after;
    # after the last tile, the Bank A broadcast window, then the Bank B broadcast window
    def decode(self, addr: int):
        bank_bytes = 4 * self.bank_words
        assert addr % 4 == 0, "unaligned"
        off = addr - BASE
        assert 0 <= off < (2 * self.tiles + 2) * bank_bytes, f"{addr:#x} outside the map"
        pair, rest = off // (2 * bank_bytes), off % (2 * bank_bytes)
        which = "A" if rest < bank_bytes else "B"
        word = (rest % bank_bytes) // 4
        tiles = list(range(self.tiles)) if pair == self.tiles else [pair]
        return which, tiles, word

    def bank_a_addr(self, tile, word=0):
        return BASE + tile * 8 * self.bank_words + 4 * word

    def broadcast_b_addr(self, word=0):
        return BASE + self.tiles * 8 * self.bank_words + 4 * self.bank_words + 4 * word

    def load(self, addr: int, words) -> None:
        words = [int(w) for w in words]
        which, tiles, word = self.decode(addr)
        assert word + len(words) <= self.bank_words, "load past the end of the bank"
        for w in words:
            assert w >> 24 == 0 and all((w >> (8 * b)) & 0xFF < 243 for b in range(3)), "not a PT-5 word"
        for t in tiles:
            bank = self.bank_a[t] if which == "A" else self.bank_b[t]
            bank[word:word + len(words)] = words
        if words:
            cost = self.latency + -(-len(words) // self.width)
            self.cycles += cost
            self.burst_wait_cycles += cost
            self.dma_words += len(words)
            self.dma_bursts += 1

    @staticmethod
    def trit(word: int, lane: int) -> int:
        byte = (word >> (8 * (lane // 5))) & 0xFF
        return _digit_to_trit((byte // 3 ** (lane % 5)) % 3, "mod3")

    def submit(self, row) -> None:
        row = [int(v) for v in row]
        hints = row[HINTS]
        kernel, bias_en, zero_skip = hints & 0xFF, bool(hints >> 16 & 1), bool(hints >> 17 & 1)
        assert row[VERSION] == 1 and row[PACKING] == 1 and kernel in (DOT, NOP)
        if kernel == NOP:
            return
        which_a, tiles_a, a_word = self.decode(row[BASE_ADDR])
        which_b, tiles_b, b_word = self.decode(row[INPUT_ADDR])
        assert which_a == "A" and tiles_a == [0] and which_b == "B" and tiles_b == [0]
        depth, stride = row[FRAME_LEN], row[LANE_STRIDE]
        tiles = [t for t in range(self.tiles) if row[TILE_MASK] >> t & 1]
        on = [lane < row[LANE_COUNT] and bool(row[LANE_MASK] >> lane & 1) for lane in range(self.lanes)]
        lo, hi = -(1 << (self.acc_bits - 1)), (1 << (self.acc_bits - 1)) - 1
        self.frames += 1
        for t in tiles:
            for lane in range(self.lanes):
                if on[lane] and not bias_en:
                    self.acc[t][lane] = 0
        for d in range(depth):
            self.cycles += 1
            self.compute_cycles += 1
            for t in tiles:
                self.tile_cycles += 1
                w_word = self.bank_a[t][a_word + d * stride]
                x_word = self.bank_b[t][b_word + d]
                for lane in range(self.lanes):
                    if not on[lane]:
                        continue
                    self.active[t][lane] += 1
                    w, x = self.trit(w_word, lane), self.trit(x_word, lane)
                    if zero_skip and (w == 0 or x == 0):
                        self.skips[t][lane] += 1
                        continue
                    v = self.acc[t][lane] + w * x
                    if v > hi:
                        v, self.overflow[t][lane] = lo, True
                    elif v < lo:
                        v, self.overflow[t][lane] = hi, True
                    self.acc[t][lane] = v

    def results(self) -> list[int]:
        return [v for t in range(self.tiles) for v in self.acc[t]]

    def snapshot(self) -> dict:
        """Every counter (per-lane ones summed over tiles as the seed's arrays; overflow as flags)."""
        return {
            "cycles": self.cycles, "compute_cycles": self.compute_cycles, "burst_wait_cycles": self.burst_wait_cycles,
            "dma_words": self.dma_words, "dma_bursts": self.dma_bursts, "frames": self.frames, "tile_cycles": self.tile_cycles,
            "active": [row[:] for row in self.active], "skips": [row[:] for row in self.skips],
            "overflow": [row[:] for row in self.overflow],
        }


def counters_between(before: dict, after: dict) -> dict:
    """The profile-style numbers of what happened between two snapshots (overflow: bits set
    during the span, as the runtime reports a layer's own overflow)."""
    out = {k: after[k] - before[k] for k in ("cycles", "compute_cycles", "burst_wait_cycles", "dma_words", "dma_bursts",
                                              "frames", "tile_cycles")}
    act = np.array(after["active"]) - np.array(before["active"])
    skp = np.array(after["skips"]) - np.array(before["skips"])
    ovf = np.array(after["overflow"])
    out["active_cycles"] = int(act.sum())
    out["skips"] = int(skp.sum())
    out["overflow_flags"] = int(sum(1 << lane for lane in range(ovf.shape[1]) if ovf[:, lane].any()))
    out["active_per_lane"] = act.sum(axis=0).tolist()
    out["skips_per_lane"] = skp.sum(axis=0).tolist()
    return out


# -- reading a compiled segment -------------------------------------------------------------------

def read_artifact(path: str) -> tuple[dict, dict]:
    """(manifest, {member: array}) of an artifact, read with zipfile and np.load only."""
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        arrays = {n: np.load(io.BytesIO(z.read(n)), allow_pickle=False) for n in z.namelist() if n.endswith(".npy")}
    return manifest, arrays


def unpack_pt5(stream: np.ndarray, count: int, encoding: str) -> np.ndarray:
    """Trits from a dense PT-5 byte stream: byte = sum d_i 3^i, trit i of the byte is digit i."""
    out = []
    for byte in stream.tolist():
        for i in range(5):
            out.append(_digit_to_trit(byte // 3 ** i % 3, encoding))
    return np.array(out[:count], np.int8)


def word_of(trits) -> int:
    """One SRAM word of up to 15 lane trits (mod3 digits, 5 per byte, bytes 0..2)."""
    word = 0
    for lane, t in enumerate(trits):
        digit = {0: 0, 1: 1, -1: 2}[int(t)]
        word += digit * 3 ** (lane % 5) << (8 * (lane // 5))
    return word


class _Layer:
    def __init__(self, entry: dict, arrays: dict, machine: dict, encoding: str):
        plan = entry["plan"]
        self.name, self.n, self.k = plan["name"], plan["n"], plan["k"]
        self.P, self.J, self.mode, self.a_base = plan["w_planes"], plan["act_trits"], plan["mode"], plan["a_base"]
        self.input, self.layout, self.conv, self.alpha = entry["input"], entry["layout"], entry["conv"], entry["alpha"]
        self.post = entry.get("post")  # a folded residual Add / Relu: host work after the layer
        m = entry["members"]
        self.trits = unpack_pt5(arrays[m["weights"]], self.P * self.n * self.k, encoding).reshape(self.P, self.n, self.k)
        self.scales, self.bias, self.tfds = arrays[m["scales"]], arrays[m["bias"]], arrays[m["tfds"]]
        T, L, bank = machine["tiles"], machine["lanes"], machine["bank_words"]
        per = T * L
        # groups of T*L outputs; a group of r rows uses ceil(r / L) tiles, tile t lanes t*L..t*L+L-1
        self.groups = [(n0, min(per, self.n - n0)) for n0 in range(0, self.n, per)]
        self.group_tiles = [-(-r // L) for _, r in self.groups]
        self.chunks = [(k0, min(bank, self.k - k0)) for k0 in range(0, self.k, bank)]
        # words[p][g][t] = the K lane-major words of tile t in group g
        self.words = [[[[word_of([self.trits[p, n0 + t * L + lane, d] if t * L + lane < r else 0 for lane in range(L)])
                         for d in range(self.k)] for t in range(T)] for (n0, r) in self.groups] for p in range(self.P)]


def run_layer(fab: OracleFabric, layer: _Layer, x: np.ndarray, bank_words: int) -> np.ndarray:
    """One call of a layer on the oracle; returns y (float32)."""
    x = np.asarray(x, np.float32)
    _, scale = ref.quantize_activations(x, layer.J)
    levels = ref.levels_at_scale(x, scale, layer.J)
    if layer.conv is not None:
        kh, kw = layer.conv["kernel_shape"]
        cols, oh, ow = ref.im2col(levels.astype(np.float32), kh, kw, layer.conv["strides"], layer.conv["pads"],
                                  layer.conv["dilations"])
        cols = cols.astype(np.int64)
    else:
        cols = levels.reshape(-1, layer.k)
    digits = ref.balanced_ternary(cols, layer.J)  # [J, M, K]
    M, K, J, P = cols.shape[0], layer.k, layer.J, layer.P
    G, C = len(layer.groups), len(layer.chunks)
    row_fit, fit = J * K <= bank_words, K <= bank_words
    acc = np.zeros((J, P, M, layer.n), np.int64)
    frames_per_row = J * G * P * C
    assert layer.tfds.shape[0] == frames_per_row

    def x_words(vals):
        return [word_of([v] * fab.lanes) for v in vals]

    def frame(m, j, g, p, c):
        k0, depth = layer.chunks[c]
        if not fit:  # each frame loads its own chunk at word 0
            fab.load(fab.broadcast_b_addr(0), x_words(digits[j, m, k0:k0 + depth]))
        if layer.mode == "frame":  # its block into the window right before it
            for t in range(layer.group_tiles[g]):
                fab.load(fab.bank_a_addr(t, layer.a_base), layer.words[p][g][t][k0:k0 + depth])
        fab.submit(layer.tfds[((j * G + g) * P + p) * C + c])

    def read(m, j, g, p):
        n0, r = layer.groups[g]
        acc[j, p, m, n0:n0 + r] = fab.results()[:r]

    def row(m, gs):
        if row_fit:
            fab.load(fab.broadcast_b_addr(0), x_words(digits[:, m, :].reshape(-1)))
        for j in range(J):
            if fit and not row_fit:
                fab.load(fab.broadcast_b_addr(0), x_words(digits[j, m, :]))
            for g in gs:
                for p in range(P):
                    for c in range(C):
                        frame(m, j, g, p, c)
                    read(m, j, g, p)

    if layer.mode == "group":
        for g in range(G):
            for t in range(layer.group_tiles[g]):
                fab.load(fab.bank_a_addr(t, layer.a_base), [w for p in range(P) for w in layer.words[p][g][t]])
            for m in range(M):
                row(m, [g])
    else:
        for m in range(M):
            row(m, range(G))
    # host: combine trit planes with powers of 3, then the float epilogue of reference.py
    y = np.zeros((M, layer.n), np.float64)
    for p in range(P):
        combined = sum(3 ** j * acc[j, p] for j in range(J))
        y = y + combined.astype(np.float64) * layer.scales[p].astype(np.float64)[None, :]
    y = y * scale
    if layer.alpha != 1.0:
        y = y * np.float64(layer.alpha)
    y = (y + layer.bias.astype(np.float64)[None, :]).astype(np.float32)
    if layer.conv is not None:
        return y.reshape(x.shape[0], oh, ow, layer.n).transpose(0, 3, 1, 2).copy()
    return y.reshape(x.shape[:-1] + (layer.n,))


def preload(fab: OracleFabric, layer: _Layer) -> None:
    """A resident layer's blocks: one burst per tile, group-major then plane then k, for the
    groups that use the tile."""
    for t in range(fab.tiles):
        words = [w for g in range(len(layer.groups)) if t < layer.group_tiles[g] for p in range(layer.P) for w in layer.words[p][g][t]]
        if words:
            fab.load(fab.bank_a_addr(t, layer.a_base), words)


class OracleModel:
    """A whole artifact: tfmbs segments on one oracle machine (SRAM shared and kept across
    calls, as the compiler allocated Bank A over all of them), host segments on onnxruntime."""

    def __init__(self, path: str):
        from tsuc.runtime.host import make_session  # the host is not under test here

        self.manifest, arrays = read_artifact(path)
        self.segments = []
        fab = None
        with zipfile.ZipFile(path) as z:
            for seg in self.manifest["segments"]:
                if seg["kind"] == "tfmbs":
                    cfg = seg["config"]
                    fab = fab or OracleFabric.of(cfg["machine"])
                    layers = [_Layer(e, arrays, cfg["machine"], cfg["encoding"]) for e in cfg["layers"]]
                    self.segments.append((seg, layers))
                else:
                    assert seg["kind"] == "onnx"
                    inits = {k: arrays[m] for k, m in seg.get("config", {}).get("initializers", {}).items()}
                    sess, keep = make_session(z.read(seg["members"]["model"]), inits)
                    self.segments.append((seg, (sess, keep)))
        self.fab = fab
        self.calls = 0

    def run(self, feeds: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[dict]]:
        """(graph outputs, per tfmbs segment {"preload", "layers": [...], "total"} counters)."""
        values = dict(feeds)
        profiles = []
        for seg, body in self.segments:
            ins = [np.asarray(values[n]) for n in seg["inputs"]]
            if seg["kind"] == "onnx":
                sess = body[0]
                outs = sess.run(seg["outputs"], {i.name: v for i, v in zip(sess.get_inputs(), ins)})
            else:
                outs, prof = self._run_tfmbs(seg, body, ins)
                profiles.append(prof)
            values.update(zip(seg["outputs"], outs))
        self.calls += 1
        return {o["name"]: values[o["name"]] for o in self.manifest["outputs"]}, profiles

    def _run_tfmbs(self, seg, layers, ins):
        fab, bank = self.fab, seg["config"]["machine"]["bank_words"]
        env = {f"arg{i}": v for i, v in enumerate(ins)}
        start = fab.snapshot()
        if self.calls == 0:
            for layer in layers:
                if layer.mode == "resident":
                    preload(fab, layer)
        mark = fab.snapshot()
        prof = {"preload": counters_between(start, mark), "layers": []}
        flags = 0
        for i, layer in enumerate(layers):
            saved = fab.overflow  # a layer reports the overflow bits it sets itself
            fab.overflow = [[False] * fab.lanes for _ in range(fab.tiles)]
            y = run_layer(fab, layer, env[layer.input], bank)
            if layer.post is not None and layer.post["residual"] is not None:
                y = ref.add(y, env[layer.post["residual"]])
            if layer.post is not None and layer.post["relu"]:
                y = ref.relu(y)
            env[f"L{i}"] = y
            now = fab.snapshot()
            prof["layers"].append(counters_between(mark, now))
            flags |= prof["layers"][-1]["overflow_flags"]
            fab.overflow = [[a or b for a, b in zip(r1, r2)] for r1, r2 in zip(saved, fab.overflow)]
            mark = fab.snapshot()
        prof["total"] = counters_between(start, fab.snapshot())
        prof["total"]["overflow_flags"] = flags
        return [env[src] for src in seg["config"]["outputs"]], prof

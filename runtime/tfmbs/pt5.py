"""PT-5 packing: five trits per byte, and the fabric's lane-major SRAM words.

A PT-5 byte holds five base-3 digits, byte = sum(d_i * 3**i) with digit 0 least significant,
so valid bytes are 0..242 and a trit costs 8/5 = 1.6 bits (log2(3) = 1.585 is the limit).
How a trit t in {-1, 0, +1} becomes a digit d is the *encoding*, and the prototype used two
incompatible ones, so tsuc names it explicitly wherever packed data is stored:

- ``offset``: d = t + 1            (-1 -> 0, 0 -> 1, +1 -> 2); the prototype's Python packers.
- ``mod3``:   d = t mod 3          (0 -> 0, +1 -> 1, -1 -> 2); the RTL unpacker and C model.

The fabric's SRAM always holds ``mod3`` (what the hardware decodes).

SRAM words (see design/tfmbs.md): a 32-bit word whose bytes 0..2 are PT-5 bytes and byte 3
is zero, byte b holding lanes 5b..5b+4 (trit j -> lane 5b+j): one trit per lane, 15 lanes.
Weights are lane-major: word d of tile t holds W[t*15 + l, d] in lane l. The artifact stores
weights as a dense PT-5 stream (1.6 bit/weight, row-major [planes, N, K]); `weight_words`
expands it into these words when a fabric image is needed.

Everything here is vectorised (lookup tables over the 243 codes); nothing loops per trit.
"""

from __future__ import annotations

import numpy as np

from tsuc.errors import TsucError

ENCODINGS = ("offset", "mod3")
TRITS_PER_BYTE = 5
CODES = 3 ** TRITS_PER_BYTE  # 243 valid byte values
BYTES_PER_WORD = 3  # used bytes of a 32-bit SRAM word; byte 3 is zero
LANES_PER_WORD = TRITS_PER_BYTE * BYTES_PER_WORD  # 15

_POW3 = 3 ** np.arange(TRITS_PER_BYTE, dtype=np.int64)


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise TsucError(f"PT-5 encoding {encoding!r} is unknown (use one of {', '.join(ENCODINGS)})")


def trits_to_digits(trits: np.ndarray, encoding: str) -> np.ndarray:
    """Base-3 digits (uint8 0..2) of trits in {-1, 0, 1} under `encoding`."""
    _check_encoding(encoding)
    t = np.ascontiguousarray(np.asarray(trits).astype(np.int8, copy=False))
    if encoding == "offset":
        return (t + np.int8(1)).view(np.uint8)
    u = t.view(np.uint8) & np.uint8(3)  # 0 -> 0, 1 -> 1, -1 (0xFF) -> 3
    return u - (u >> np.uint8(1))  # 3 -> 2


def digits_to_trits(digits: np.ndarray, encoding: str) -> np.ndarray:
    """Trits (int8) of base-3 digits 0..2 under `encoding`."""
    _check_encoding(encoding)
    d = np.asarray(digits).astype(np.int8, copy=False)
    if encoding == "offset":
        return d - 1
    return np.where(d == 2, np.int8(-1), d).astype(np.int8)


def _decode_table(encoding: str) -> np.ndarray:
    """[256, 5] int8: the five trits of each byte; rows 243..255 are invalid (never used)."""
    codes = np.arange(256, dtype=np.int64)
    digits = (codes[:, None] // _POW3[None, :]) % 3
    return digits_to_trits(digits, encoding)


_DECODE = {enc: _decode_table(enc) for enc in ENCODINGS}
# The same tables with each byte's five trits in one little-endian uint64 (bytes 5..7 zero):
# a 1-D gather of 8-byte records is several times faster than a 2-D fancy index.
_DECODE64 = {enc: np.concatenate([t, np.zeros((256, 3), np.int8)], axis=1).view("<u8").reshape(256)
             for enc, t in _DECODE.items()}


def check_trits(trits: np.ndarray, what: str = "trits") -> np.ndarray:
    """`trits` as int8 after checking every value is -1, 0 or 1."""
    t = np.asarray(trits)
    if t.size and (t.min() < -1 or t.max() > 1):
        raise TsucError(f"{what} must hold only -1, 0 and 1")
    return t.astype(np.int8, copy=False)


def pack(trits: np.ndarray, encoding: str) -> np.ndarray:
    """Pack the last axis of `trits` five per byte: [..., n] -> uint8 [..., ceil(n/5)].

    A final partial byte is padded with the digit of trit 0 (so the padding decodes to 0).
    """
    t = check_trits(trits)
    n = t.shape[-1] if t.ndim else 0
    if t.ndim == 0:
        raise TsucError("cannot PT-5 pack a scalar")
    pad = (-n) % TRITS_PER_BYTE
    if pad:
        t = np.concatenate([t, np.zeros(t.shape[:-1] + (pad,), dtype=np.int8)], axis=-1)
    d = trits_to_digits(t, encoding).reshape(t.shape[:-1] + ((n + pad) // TRITS_PER_BYTE, TRITS_PER_BYTE))
    out = d[..., 4].copy()  # Horner in uint8: every partial value stays <= 242
    for i in (3, 2, 1, 0):
        out *= 3
        out += d[..., i]
    return out


def check_bytes(packed: np.ndarray, what: str = "PT-5 data") -> np.ndarray:
    """`packed` as uint8 after checking every byte is a valid code (<= 242)."""
    b = np.asarray(packed)
    if b.dtype != np.uint8:
        raise TsucError(f"{what} must be uint8 bytes, got {b.dtype}")
    if b.size and int(b.max()) >= CODES:
        raise TsucError(f"{what} holds byte {int(b.max())}, which is not a PT-5 code (valid: 0..242)")
    return b


def unpack(packed: np.ndarray, n: int, encoding: str) -> np.ndarray:
    """Inverse of `pack`: uint8 [..., m] -> int8 trits [..., n] (n <= 5m)."""
    _check_encoding(encoding)
    b = check_bytes(packed)
    if b.ndim == 0:
        raise TsucError("cannot PT-5 unpack a scalar")
    m = b.shape[-1]
    if not (TRITS_PER_BYTE * (m - 1) < n <= TRITS_PER_BYTE * m or (m == 0 and n == 0)):
        raise TsucError(f"{m} PT-5 bytes cannot hold {n} trits")
    records = _DECODE64[encoding][b.reshape(-1)]  # [size] uint64, five trits each
    out = records.view(np.int8).reshape(b.shape[:-1] + (m, 8))[..., :TRITS_PER_BYTE]
    return out.reshape(b.shape[:-1] + (TRITS_PER_BYTE * m,))[..., :n]


# -- dense weight streams (what the artifact stores) ----------------------------------------


def pack_stream(trits: np.ndarray, encoding: str) -> np.ndarray:
    """A flat dense PT-5 stream of `trits` in C order: ceil(size/5) bytes, 1.6 bit/trit."""
    return pack(check_trits(trits).reshape(-1), encoding)


def unpack_stream(packed: np.ndarray, shape: tuple[int, ...], encoding: str) -> np.ndarray:
    """Inverse of `pack_stream`: int8 trits of `shape`."""
    size = int(np.prod(shape, dtype=np.int64))
    return unpack(np.asarray(packed).reshape(-1), size, encoding).reshape(shape)


# -- SRAM words -----------------------------------------------------------------------------


def words_from_lanes(lane_trits: np.ndarray, encoding: str = "mod3") -> np.ndarray:
    """SRAM words from trits [..., 15] (one per lane): uint32 [...], byte 3 zero."""
    t = check_trits(lane_trits)
    if t.shape[-1:] != (LANES_PER_WORD,):
        raise TsucError(f"an SRAM word holds {LANES_PER_WORD} lanes, got a last axis of {t.shape[-1:]}")
    b = pack(t, encoding).astype(np.uint32)  # [..., 3]
    return b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)


def check_words(words: np.ndarray, what: str = "SRAM words") -> np.ndarray:
    """`words` as uint32 after checking byte 3 is zero and bytes 0..2 are PT-5 codes."""
    w = np.asarray(words)
    if w.dtype != np.uint32:
        raise TsucError(f"{what} must be uint32, got {w.dtype}")
    if w.size:
        if int((w >> 24).max()) != 0:
            raise TsucError(f"{what} has a nonzero byte 3 (only 24 of 32 bits are used)")
        for shift in (0, 8, 16):
            if int(((w >> shift) & 0xFF).max()) >= CODES:
                raise TsucError(f"{what} holds a byte above 242, which is not a PT-5 code")
    return w


def lanes_from_words(words: np.ndarray, encoding: str = "mod3") -> np.ndarray:
    """Inverse of `words_from_lanes`: uint32 [...] -> int8 trits [..., 15]."""
    _check_encoding(encoding)
    w = np.ascontiguousarray(np.asarray(words, dtype=np.uint32))
    b = w.view(np.uint8).reshape(w.shape + (4,))[..., :BYTES_PER_WORD]
    if not np.little_endian:  # pragma: no cover - the view above assumes little-endian words
        b = b[..., ::-1]
    return _DECODE[encoding][b].reshape(w.shape + (LANES_PER_WORD,))


def dense_to_word_bytes(dense_words: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] (the used bytes of each word) -> uint32 words with byte 3 = 0."""
    b = check_bytes(np.asarray(dense_words), "dense SRAM bytes").astype(np.uint32)
    if b.shape[-1:] != (BYTES_PER_WORD,):
        raise TsucError("dense SRAM bytes must have a last axis of 3")
    return b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)


def word_bytes_to_dense(words: np.ndarray) -> np.ndarray:
    """uint32 words -> uint8 [..., 3]: the 1.6 bit/trit form of an SRAM image."""
    w = check_words(np.asarray(words, dtype=np.uint32))
    return np.stack([(w >> s) & 0xFF for s in (0, 8, 16)], axis=-1).astype(np.uint8)


def weight_words(trits: np.ndarray, tiles: int, lanes: int = LANES_PER_WORD, encoding: str = "mod3") -> np.ndarray:
    """Lane-major SRAM image of W[N, K]: uint32 [groups, tiles, K].

    Output row n = g*tiles*lanes + t*lanes + l goes to lane l of tile t in group g; rows
    past N (and lanes past `lanes` when a tile has fewer than 15) are zero trits. Word d of
    [g, t] is what Bank A of tile t holds at the block's offset + d.
    """
    t = check_trits(trits, "weight trits")
    if t.ndim != 2:
        raise TsucError(f"weight trits must be 2-D [N, K], got shape {t.shape}")
    if not 1 <= lanes <= LANES_PER_WORD:
        raise TsucError(f"lanes={lanes} must be between 1 and {LANES_PER_WORD}")
    n, k = t.shape
    per_group = tiles * lanes
    groups = max(1, -(-n // per_group))
    padded = np.zeros((groups * per_group, k), dtype=np.int8)
    padded[:n] = t
    lane_trits = np.zeros((groups, tiles, k, LANES_PER_WORD), dtype=np.int8)
    lane_trits[..., :lanes] = padded.reshape(groups, tiles, lanes, k).transpose(0, 1, 3, 2)
    return words_from_lanes(lane_trits, encoding)


def input_words(x_trits: np.ndarray, encoding: str = "mod3") -> np.ndarray:
    """Bank B image of an input vector x[K] (trits): word d holds x[d] in all 15 lanes."""
    x = check_trits(x_trits, "input trits")
    return words_from_lanes(np.repeat(x[..., None], LANES_PER_WORD, axis=-1), encoding)

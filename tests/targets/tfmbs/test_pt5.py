"""PT-5 packing: exhaustive round trips over all 243 codes, both encodings, SRAM words."""

import itertools

import numpy as np
import pytest

from tsuc.errors import TsucError
from tsuc.runtime.tfmbs import pt5

ALL_TRITS = np.array(list(itertools.product((-1, 0, 1), repeat=5)), dtype=np.int8)  # 243 x 5


@pytest.mark.parametrize("encoding", pt5.ENCODINGS)
def test_every_code_round_trips(encoding):
    codes = pt5.pack(ALL_TRITS, encoding)[:, 0]
    assert sorted(codes.tolist()) == list(range(243))  # a bijection onto 0..242
    assert np.array_equal(pt5.unpack(codes[:, None], 5, encoding), ALL_TRITS)
    every_byte = np.arange(243, dtype=np.uint8)[:, None]
    assert np.array_equal(pt5.pack(pt5.unpack(every_byte, 5, encoding), encoding), every_byte)


def test_encodings_digit_by_digit():
    # byte = sum d_i 3^i, trit 0 least significant; the two digit maps of the design page
    t = np.array([[1, -1, 0, 0, 1]], dtype=np.int8)
    assert pt5.pack(t, "offset")[0, 0] == 2 * 1 + 0 * 3 + 1 * 9 + 1 * 27 + 2 * 81
    assert pt5.pack(t, "mod3")[0, 0] == 1 * 1 + 2 * 3 + 0 * 9 + 0 * 27 + 1 * 81
    assert pt5.pack(np.zeros((1, 5), np.int8), "offset")[0, 0] == 121
    assert pt5.pack(np.zeros((1, 5), np.int8), "mod3")[0, 0] == 0


def test_encodings_differ_and_are_not_interchangeable():
    off = pt5.pack(ALL_TRITS, "offset")
    assert not np.array_equal(pt5.unpack(off, 5, "mod3"), ALL_TRITS)


@pytest.mark.parametrize("n", [0, 1, 4, 5, 6, 17, 1000])
def test_partial_bytes_and_lengths(n):
    rng = np.random.default_rng(n)
    t = rng.integers(-1, 2, size=(3, n)).astype(np.int8)
    for enc in pt5.ENCODINGS:
        b = pt5.pack(t, enc)
        assert b.shape == (3, -(-n // 5))
        assert np.array_equal(pt5.unpack(b, n, enc), t)


def test_dense_stream_is_1_6_bits_per_trit():
    rng = np.random.default_rng(0)
    t = rng.integers(-1, 2, size=(2, 33, 70)).astype(np.int8)
    s = pt5.pack_stream(t, "mod3")
    assert s.nbytes == -(-t.size // 5)
    assert np.array_equal(pt5.unpack_stream(s, t.shape, "mod3"), t)


def test_bad_inputs_raise_one_sentence():
    with pytest.raises(TsucError, match="only -1, 0 and 1"):
        pt5.pack(np.array([[2, 0, 0, 0, 0]]), "mod3")
    with pytest.raises(TsucError, match="not a PT-5 code"):
        pt5.unpack(np.array([[243]], dtype=np.uint8), 5, "mod3")
    with pytest.raises(TsucError, match="encoding"):
        pt5.pack(ALL_TRITS, "binary")
    with pytest.raises(TsucError, match="cannot hold"):
        pt5.unpack(np.zeros((1, 2), np.uint8), 11, "mod3")
    with pytest.raises(TsucError, match="byte 3"):
        pt5.check_words(np.array([1 << 24], dtype=np.uint32))


def test_word_layout_byte_b_holds_lanes_5b_to_5b_plus_4():
    lanes = np.zeros(15, dtype=np.int8)
    lanes[7] = 1  # byte 1, trit 2 -> digit 1 * 3^2 = 9 in byte 1 (mod3)
    lanes[14] = -1  # byte 2, trit 4 -> digit 2 * 81 = 162 in byte 2
    w = int(pt5.words_from_lanes(lanes))
    assert w == (9 << 8) | (162 << 16)
    assert np.array_equal(pt5.lanes_from_words(np.array([w], np.uint32))[0], lanes)


def test_words_round_trip_and_dense_form():
    rng = np.random.default_rng(1)
    lanes = rng.integers(-1, 2, size=(64, 15)).astype(np.int8)
    for enc in pt5.ENCODINGS:
        w = pt5.words_from_lanes(lanes, enc)
        assert w.dtype == np.uint32 and int((w >> 24).max()) == 0
        assert np.array_equal(pt5.lanes_from_words(w, enc), lanes)
    w = pt5.words_from_lanes(lanes)
    dense = pt5.word_bytes_to_dense(w)
    assert dense.shape == (64, 3)
    assert np.array_equal(pt5.dense_to_word_bytes(dense), w)


def test_weight_words_are_lane_major():
    rng = np.random.default_rng(2)
    n, k, tiles = 70, 9, 4  # two groups of 60; the second has 10 rows in tile 0
    w = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
    img = pt5.weight_words(w, tiles)
    assert img.shape == (2, tiles, k)
    lanes = pt5.lanes_from_words(img)  # [g, t, d, lane]
    for row in range(n):
        g, rem = divmod(row, 60)
        t, l = divmod(rem, 15)
        assert np.array_equal(lanes[g, t, :, l], w[row])
    assert not lanes[1, 0, :, 10:].any() and not lanes[1, 1:].any()  # padding is zero


def test_input_words_replicate_into_every_lane():
    x = np.array([1, -1, 0], dtype=np.int8)
    lanes = pt5.lanes_from_words(pt5.input_words(x))
    assert np.array_equal(lanes, np.repeat(x[:, None], 15, axis=1))

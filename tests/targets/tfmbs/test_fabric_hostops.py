"""Host-side helpers of a fabric layer: im2col and its column sums, against plain loops."""

import numpy as np
import pytest

from tsuc.runtime.tfmbs.host_ops import column_sums, conv_out_hw, im2col


def _im2col_loops(x, kernel, strides, pads, dilations):
    b, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh, ow = conv_out_hw(h, w, kernel, strides, pads, dilations)
    rows = []
    for bi in range(b):
        for i in range(oh):
            for j in range(ow):
                rows.append([xp[bi, ci, i * strides[0] + ki * dilations[0], j * strides[1] + kj * dilations[1]]
                             for ci in range(c) for ki in range(kernel[0]) for kj in range(kernel[1])])
    return np.array(rows, dtype=x.dtype)


@pytest.mark.parametrize("kernel,strides,pads,dilations", [
    ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    ((3, 2), (2, 3), (0, 1, 2, 0), (1, 1)),
    ((2, 3), (2, 2), (1, 0, 1, 2), (2, 1)),
    ((1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((1, 1), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((1, 1), (2, 1), (1, 0, 0, 1), (1, 1)),
])
def test_im2col_and_column_sums_match_loops(kernel, strides, pads, dilations):
    x = np.random.default_rng(0).integers(-3, 4, size=(2, 3, 7, 8)).astype(np.int16)
    expect = _im2col_loops(x, kernel, strides, pads, dilations)
    np.testing.assert_array_equal(im2col(x, kernel, strides, pads, dilations), expect)
    np.testing.assert_array_equal(column_sums(x, kernel, strides, pads, dilations), expect.sum(axis=0))

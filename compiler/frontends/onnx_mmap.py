"""Reading an ONNX file with its weights as views of the mapped file.

`onnx.load` reads the file into memory, protobuf copies every initializer's `raw_data` into
its own storage, and `numpy_helper.to_array` copies it once more: three passes over 100 MB
for a ResNet-50 before the compiler looks at a weight. Here the file is memory-mapped and
the protobuf wire format is walked just deep enough (ModelProto.graph -> GraphProto.initializer
-> TensorProto.raw_data) to find where each large initializer's bytes lie; the model is
parsed by protobuf without those bytes (with stubs in their place, see
`onnx_import._split_weights`), and each weight is a read-only numpy view of the mapping.

Anything this walker does not expect (a malformed or unusual encoding, a graph given twice, a
tensor without a single `raw_data`, a big-endian machine) makes it return None, and the caller
reads the file the ordinary way, so errors and results are the same.
"""

from __future__ import annotations

import mmap
import sys

import numpy as np
import onnx

_GRAPH = 7  # ModelProto.graph
_INITIALIZER = 5  # GraphProto.initializer
_RAW_DATA = 9  # TensorProto.raw_data


class _Malformed(Exception):
    pass


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview, start: int, end: int):
    """(field number, wire type, field start, payload start, payload end) of each field."""
    pos = start
    while pos < end:
        field_start = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed
        if wire == 0:
            _, pos2 = _varint(buf, pos, end)
        elif wire == 1:
            pos2 = pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            pos2 = pos + length
        elif wire == 5:
            pos2 = pos + 4
        else:  # groups: not in onnx.proto
            raise _Malformed
        if pos2 > end:
            raise _Malformed
        yield number, wire, field_start, pos, pos2
        pos = pos2


def _tag(number: int, length: int) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(length)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def load_mapped(path: str, is_large, make_stub) -> tuple[onnx.ModelProto, dict[str, np.ndarray]] | None:
    """(model with stubs for the large initializers, their arrays as views of the mapped file),
    or None when the file is not laid out as this reader expects.

    `is_large(tensor)` says whether an initializer (parsed without its raw data) is to be a
    stub; `make_stub(tensor)` turns that tensor into the stub, in place."""
    if sys.byteorder != "little":
        return None
    try:
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # empty file, special file, ...
        return None
    try:
        return _walk(mapped, is_large, make_stub)
    except _Malformed:
        return None


def _walk(mapped: mmap.mmap, is_large, make_stub) -> tuple[onnx.ModelProto, dict[str, np.ndarray]] | None:
    buf = memoryview(mapped)
    end = len(buf)
    graphs = [f for f in _fields(buf, 0, end) if f[0] == _GRAPH]
    if len(graphs) != 1 or graphs[0][1] != 2:
        return None
    _, _, g_field, g_start, g_end = graphs[0]
    parts: list[bytes | memoryview] = [buf[:g_field], buf[g_end:]]  # the model's other fields, as they are
    graph_parts: list[bytes | memoryview] = []
    weights: dict[str, np.ndarray] = {}
    for number, wire, f_start, p_start, p_end in _fields(buf, g_start, g_end):
        if number != _INITIALIZER or wire != 2:
            graph_parts.append(buf[f_start:p_end])
            continue
        raws = [f for f in _fields(buf, p_start, p_end) if f[0] == _RAW_DATA]
        if len(raws) != 1 or raws[0][1] != 2:
            graph_parts.append(buf[f_start:p_end])
            continue
        _, _, r_field, r_start, r_end = raws[0]
        tensor = onnx.TensorProto()
        try:
            tensor.ParseFromString(bytes(buf[p_start:r_field]) + bytes(buf[r_end:p_end]))
        except Exception:
            return None
        array = _view(mapped, tensor, r_start, r_end) if is_large(tensor) and tensor.name not in weights else None
        if array is None:
            graph_parts.append(buf[f_start:p_end])
            continue
        make_stub(tensor)
        data = tensor.SerializeToString()
        graph_parts += [_tag(_INITIALIZER, len(data)), data]
        weights[tensor.name] = array
    graph = b"".join(bytes(p) for p in graph_parts)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(b"".join(bytes(p) for p in parts) + _tag(_GRAPH, len(graph)) + graph)
    except Exception:
        return None
    return model, weights


def _view(mapped: mmap.mmap, tensor: onnx.TensorProto, start: int, end: int) -> np.ndarray | None:
    """The tensor's values as a read-only view of the mapping, if its raw bytes are exactly
    its dims' worth of a plain numpy element type."""
    from tsuc.compiler.types import element_type, has_numpy_dtype, numpy_dtype

    if (not has_numpy_dtype(tensor.data_type) or tensor.data_location == onnx.TensorProto.EXTERNAL
            or tensor.HasField("segment")):
        return None
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        return None
    dtype = np.dtype(numpy_dtype(element_type(tensor.data_type, tensor.name)))
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if count * dtype.itemsize != end - start:
        return None
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=start).reshape(dims)

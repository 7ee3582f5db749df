"""Outer-scope names in ONNX subgraphs (If/Loop/Scan bodies): find them, rename them.

A subgraph may read any value of the graphs enclosing it by name, without listing it as an
input. The importer turns those reads into operands (so the producer is not removed or put in
another segment) and the exporter, which names tensors afresh, renames them inside the
subgraphs. Names a subgraph defines itself (its inputs, initializers, node outputs) shadow
outer ones and are never renamed.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx
from onnx import AttributeProto


def subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == AttributeProto.GRAPHS:
            yield from attr.graphs


def _defined_at_entry(graph: onnx.GraphProto) -> set[str]:
    return ({i.name for i in graph.input} | {t.name for t in graph.initializer}
            | {t.values.name for t in graph.sparse_initializer})


def free_names(graph: onnx.GraphProto) -> list[str]:
    """Names `graph` (or any graph nested in it) reads but does not define, in first-use order."""
    defined = _defined_at_entry(graph)
    free: dict[str, None] = {}
    for node in graph.node:
        for name in node.input:
            if name and name not in defined:
                free.setdefault(name)
        for sub in subgraphs(node):
            for name in free_names(sub):
                if name not in defined:
                    free.setdefault(name)
        defined.update(o for o in node.output if o)
    for out in graph.output:
        if out.name not in defined:
            free.setdefault(out.name)
    return list(free)


def node_free_names(node: onnx.NodeProto) -> list[str]:
    """Outer names the subgraphs of `node` read."""
    free: dict[str, None] = {}
    for sub in subgraphs(node):
        for name in free_names(sub):
            free.setdefault(name)
    return list(free)


def rename_outer(graph: onnx.GraphProto, mapping: dict[str, str]) -> None:
    """Rename, in place, every read of an outer name in `mapping` inside `graph` and below."""
    mapping = {k: v for k, v in mapping.items() if k not in _defined_at_entry(graph)}
    if not mapping:
        return
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in mapping:
                node.input[k] = mapping[name]
        for sub in subgraphs(node):
            rename_outer(sub, mapping)
        for out in node.output:
            mapping.pop(out, None)  # shadowed from here on
        if not mapping:
            return
    for out in graph.output:
        if out.name in mapping:
            out.name = mapping[out.name]
    for vi in graph.value_info:
        if vi.name in mapping:
            vi.name = mapping[vi.name]


def defined_names(graph: onnx.GraphProto) -> set[str]:
    """Every name `graph` and the graphs nested in it define (to keep fresh names clear of)."""
    names = _defined_at_entry(graph)
    for node in graph.node:
        names.update(node.output)
        for sub in subgraphs(node):
            names |= defined_names(sub)
    return names

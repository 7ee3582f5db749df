"""Module verification after every pass, without re-verifying what the pass left alone.

The driver verifies the whole module after each pass (a pass that leaves invalid IR is a
compiler bug). Most passes touch few ops, and xDSL's generic IRDL verifier costs about 40 us
an op, so a ResNet-50 paid ~35 ms per pass re-checking hundreds of unchanged ops.

An op whose class says its verifier is *local* (`LOCAL_VERIFY = True`: it reads only the
op's own operand and result types, attributes and properties, as the generated `onnx.*` ops
do) and that has no regions or successors is remembered after it verifies, together with a
fingerprint of everything its verification reads: its operands and results (the value
objects and their types), attributes, properties, parent block and whether it ends that
block. The next verification skips it while the fingerprint is the same (compared by
identity first: attributes are immutable, so an unchanged op costs a tuple comparison).
Every other op, and every op whose fingerprint changed, is verified as `Operation.verify`
does, with the same messages.
"""

from __future__ import annotations

from xdsl.ir import Operation
from xdsl.utils.exceptions import VerifyException


def _fingerprint(op: Operation) -> tuple:
    parent = op.parent
    return (tuple(op.operands), tuple(v.type for v in op.operands), tuple(op.results), tuple(r.type for r in op.results),
            tuple(op.attributes.items()), tuple(op.properties.items()), parent,
            parent is not None and parent.last_op is op)


def _cacheable(op: Operation) -> bool:
    return getattr(type(op), "LOCAL_VERIFY", False) is True and not op.regions and not op.successors


class IncrementalVerifier:
    """`verify(module)` verifies like `module.verify()`, skipping local ops unchanged since
    this verifier last passed them. One verifier per module being compiled."""

    def __init__(self) -> None:
        self._passed: dict[Operation, tuple] = {}
        self.skipped = 0
        self.checked = 0

    def verify(self, op: Operation) -> None:
        if _cacheable(op):
            key = _fingerprint(op)
            if self._passed.get(op) == key:
                self.skipped += 1
                return
            op.verify(verify_nested_ops=False)
            self.checked += 1
            self._passed[op] = key
            return
        for region in op.regions:
            for block in region.blocks:
                for child in block.ops:
                    if child.parent is not block:
                        raise ValueError("Parent pointer of operation does not refer to containing region")
                    self.verify(child)
                if not block.ops and region.parent is not None and len(region.blocks) == 1 \
                        and not _no_terminator(region.parent):
                    raise VerifyException(f"Operation {region.parent.name} contains empty block in "
                                          "single-block region that expects at least a terminator")
                if block.parent is not region:
                    raise ValueError("Parent pointer of block does not refer to containing region")
        op.verify(verify_nested_ops=False)
        self.checked += 1


def _no_terminator(op: Operation) -> bool:
    from xdsl.traits import NoTerminator

    return op.has_trait(NoTerminator)

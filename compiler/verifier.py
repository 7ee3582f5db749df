"""Module verification after every pass, without re-verifying what the pass left alone.

The driver verifies the whole module after each pass (a pass that leaves invalid IR is a
compiler bug). Most passes touch few ops, and xDSL's generic IRDL verifier costs about 40 us
an op, so a ResNet-50 paid ~35 ms per pass re-checking hundreds of unchanged ops.

An op whose class says its verifier is *local* (`LOCAL_VERIFY = True`: it reads only the
op's own operand and result types, attributes and properties, as the generated `onnx.*` ops
do, and for an op with regions also the blocks and ops it holds) and that has no successors
is remembered after it verifies, together with a fingerprint of everything its verification
reads: its operands and results (the value objects and their types), attributes,
properties, parent block, the block's parent op and whether it ends that block; for an op
with regions also its regions, blocks, block arguments and their types and the ops in them,
in order. The next verification skips it while the fingerprint is the same (compared by
identity first: attributes are immutable, so an unchanged op costs a tuple comparison) and,
for an op with regions, every op inside was skipped too. Every other op, and every op whose
fingerprint changed, is verified as `Operation.verify` does, with the same messages.
"""

from __future__ import annotations

from xdsl.ir import Operation
from xdsl.utils.exceptions import VerifyException


def _fingerprint(op: Operation) -> tuple:
    parent = op.parent
    return (tuple(op.operands), tuple(v.type for v in op.operands), tuple(op.results), tuple(r.type for r in op.results),
            tuple(op.attributes.items()), tuple(op.properties.items()), parent,
            parent is not None and parent.last_op is op, parent.parent_op() if parent is not None else None)


def _local(op: Operation) -> bool:
    return getattr(type(op), "LOCAL_VERIFY", False) is True and not op.successors


class IncrementalVerifier:
    """`verify(module)` verifies like `module.verify()`, skipping local ops unchanged since
    this verifier last passed them. One verifier per module being compiled."""

    def __init__(self) -> None:
        self._passed: dict[Operation, tuple] = {}
        self.skipped = 0
        self.checked = 0

    def verify(self, op: Operation) -> bool:
        """Verify `op` (and what it holds); True if it was skipped as unchanged."""
        if _local(op) and not op.regions:
            return self._verify_unless_passed(op, _fingerprint(op))
        unchanged = True
        structure: list = []  # blocks, their arguments and ops in order: what a region op's verifier walks
        for region in op.regions:
            structure.append(region)
            for block in region.blocks:
                structure += [block, *block.args, *(a.type for a in block.args)]
                for child in block.ops:
                    if child.parent is not block:
                        raise ValueError("Parent pointer of operation does not refer to containing region")
                    unchanged &= self.verify(child)
                    structure.append(child)
                if not block.ops and region.parent is not None and len(region.blocks) == 1 \
                        and not _no_terminator(region.parent):
                    raise VerifyException(f"Operation {region.parent.name} contains empty block in "
                                          "single-block region that expects at least a terminator")
                if block.parent is not region:
                    raise ValueError("Parent pointer of block does not refer to containing region")
        if _local(op):  # an op with regions: skipped when it and everything it holds is as it was
            return self._verify_unless_passed(op, (_fingerprint(op), tuple(structure)), unchanged)
        op.verify(verify_nested_ops=False)
        self.checked += 1
        return False

    def _verify_unless_passed(self, op: Operation, key: tuple, unchanged: bool = True) -> bool:
        """Skip `op` if it passed with this `key` (and nothing inside changed), else verify it
        alone and remember the key."""
        if unchanged and self._passed.get(op) == key:
            self.skipped += 1
            return True
        op.verify(verify_nested_ops=False)
        self.checked += 1
        self._passed[op] = key
        return False


def _no_terminator(op: Operation) -> bool:
    from xdsl.traits import NoTerminator

    return op.has_trait(NoTerminator)

"""Every tsuc dialect and pass, registered lazily for `tsuc opt` and `xdsl-opt`.

Exposed through the `xdsl.universe` entry point (pyproject.toml), so xDSL's own tools see
our dialects and passes next to theirs. Factories import on first use only.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.universe import Universe


def _onnx() -> Dialect:
    from tsuc.dialects.onnx import get_onnx_dialect

    return get_onnx_dialect()


def _tsuc() -> Dialect:
    from tsuc.dialects.tsuc import TSUC

    return TSUC


def _shape_inference() -> type[ModulePass]:
    from tsuc.compiler.passes.shape_inference import ShapeInferencePass

    return ShapeInferencePass


def _constant_fold() -> type[ModulePass]:
    from tsuc.compiler.passes.constant_fold import ConstantFoldPass

    return ConstantFoldPass


def _dce() -> type[ModulePass]:
    from tsuc.compiler.passes.dce import DeadCodeRemovalPass

    return DeadCodeRemovalPass


def _host_legalize() -> type[ModulePass]:
    from tsuc.compiler.passes.host_legalize import HostLegalizePass

    return HostLegalizePass


def _partition() -> type[ModulePass]:
    from tsuc.compiler.passes.partition import PartitionPass

    return PartitionPass


TSUC_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "onnx": _onnx,
    "tsuc": _tsuc,
    "onnxnode": lambda: __import__("tsuc.dialects.onnx_node", fromlist=["ONNX_NODE"]).ONNX_NODE,
    "tfmbs": lambda: __import__("tsuc.dialects.tfmbs", fromlist=["TFMBS"]).TFMBS,
    "tsu": lambda: __import__("tsuc.dialects.tsu", fromlist=["TSU"]).TSU,
    "hlo": lambda: __import__("tsuc.dialects.hlo", fromlist=["HLO"]).HLO,
    "hologram": lambda: __import__("tsuc.dialects.hologram", fromlist=["HOLOGRAM"]).HOLOGRAM,
}

TSUC_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "onnx-shape-inference": _shape_inference,
    "onnx-constant-fold": _constant_fold,
    "onnx-dce": _dce,
    "tsuc-partition": _partition,
    "tsuc-host-legalize": _host_legalize,
    "tsuc-materialize-outputs": lambda: __import__("tsuc.compiler.passes.graph_outputs", fromlist=["_"]).MaterializeOutputsPass,
    "tsuc-expose-values": lambda: __import__("tsuc.compiler.passes.graph_outputs", fromlist=["_"]).ExposeValuesPass,
    "tsuc-count-ops": lambda: __import__("tsuc.compiler.passes.op_counts", fromlist=["_"]).CountOpsPass,
    "tsu-embed": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuEmbedPass,
    "tsu-quantize": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuQuantizePass,
    "tsu-colour": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuColourPass,
    "tsu-schedule": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuSchedulePass,
    "tsu-lower-sampling": lambda: __import__("tsuc.targets.tsu.sampling", fromlist=["_"]).TsuLowerSamplingPass,
    "tfmbs-lower": lambda: __import__("tsuc.targets.tfmbs.lower", fromlist=["_"]).LowerToTfmbsPass,
    "tfmbs-allocate": lambda: __import__("tsuc.targets.tfmbs.allocate", fromlist=["_"]).AllocateTfmbsPass,
    "tfmbs-to-linalg": lambda: __import__("tsuc.targets.tfmbs.to_linalg", fromlist=["_"]).TfmbsToLinalgPass,
    "xla-lower": lambda: __import__("tsuc.targets.xla.lower", fromlist=["_"]).LowerToHloPass,
    "hologram-lower": lambda: __import__("tsuc.targets.hologram.lower", fromlist=["_"]).LowerToHologramPass,
    "hologram-canonicalize": lambda: __import__("tsuc.targets.hologram.canonicalize", fromlist=["_"]).CanonicalizeHologramPass,
    "hologram-fuse": lambda: __import__("tsuc.targets.hologram.fuse", fromlist=["_"]).FuseHologramPass,
    "hologram-allocate": lambda: __import__("tsuc.targets.hologram.allocate", fromlist=["_"]).AllocateHologramPass,
    "tfmbs-outline": lambda: __import__("tsuc.targets.tfmbs.to_linalg", fromlist=["_"]).TfmbsOutlinePass,
    "tfmbs-upstream-module": lambda: __import__("tsuc.targets.tfmbs.upstream", fromlist=["_"]).TfmbsUpstreamModulePass,
}

TSUC_UNIVERSE = Universe(all_dialects=TSUC_DIALECTS, all_passes=TSUC_PASSES)


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """Every installed universe's dialects: xDSL's, ours, and those of plugins (`xdsl.universe`
    entry points, which is how a plugin target brings its dialect to `tsuc opt`)."""
    from xdsl.universe import Universe

    dialects = dict(Universe.get_multiverse().all_dialects)
    dialects.update(TSUC_DIALECTS)
    return dialects


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every installed universe's passes (xDSL's, ours, plugins')."""
    from xdsl.universe import Universe

    passes = dict(Universe.get_multiverse().all_passes)
    passes.update(TSUC_PASSES)
    return passes

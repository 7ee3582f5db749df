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
    "tfmbs": lambda: __import__("tsuc.dialects.tfmbs", fromlist=["TFMBS"]).TFMBS,
    "tsu": lambda: __import__("tsuc.dialects.tsu", fromlist=["TSU"]).TSU,
    "hologram": lambda: __import__("tsuc.dialects.hologram", fromlist=["HOLOGRAM"]).HOLOGRAM,
}

TSUC_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "onnx-shape-inference": _shape_inference,
    "onnx-constant-fold": _constant_fold,
    "onnx-dce": _dce,
    "tsuc-partition": _partition,
    "tsuc-host-legalize": _host_legalize,
    "tsu-embed": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuEmbedPass,
    "tsu-quantize": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuQuantizePass,
    "tsu-colour": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuColourPass,
    "tsu-schedule": lambda: __import__("tsuc.targets.tsu.passes", fromlist=["_"]).TsuSchedulePass,
    "tsu-lower-sampling": lambda: __import__("tsuc.targets.tsu.sampling", fromlist=["_"]).TsuLowerSamplingPass,
    "tfmbs-lower": lambda: __import__("tsuc.targets.tfmbs.lower", fromlist=["_"]).LowerToTfmbsPass,
    "tfmbs-allocate": lambda: __import__("tsuc.targets.tfmbs.allocate", fromlist=["_"]).AllocateTfmbsPass,
    "tfmbs-to-linalg": lambda: __import__("tsuc.targets.tfmbs.to_linalg", fromlist=["_"]).TfmbsToLinalgPass,
    "hologram-configure": lambda: __import__("tsuc.targets.hologram.options", fromlist=["_"]).ConfigureHologramPass,
    "hologram-lower": lambda: __import__("tsuc.targets.hologram.lower", fromlist=["_"]).LowerToHologramPass,
    "hologram-canonicalize": lambda: __import__("tsuc.targets.hologram.canonicalize", fromlist=["_"]).CanonicalizeHologramPass,
    "hologram-fuse": lambda: __import__("tsuc.targets.hologram.fuse", fromlist=["_"]).FuseHologramPass,
    "hologram-allocate": lambda: __import__("tsuc.targets.hologram.allocate", fromlist=["_"]).AllocateHologramPass,
    "tfmbs-outline": lambda: __import__("tsuc.targets.tfmbs.to_linalg", fromlist=["_"]).TfmbsOutlinePass,
}

TSUC_UNIVERSE = Universe(all_dialects=TSUC_DIALECTS, all_passes=TSUC_PASSES)


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """xDSL's dialects plus ours (what `tsuc opt` parses)."""
    from xdsl.dialects import get_all_dialects

    dialects = dict(get_all_dialects())
    dialects.update(TSUC_DIALECTS)
    return dialects


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    from xdsl.transforms import get_all_passes

    passes = dict(get_all_passes())
    passes.update(TSUC_PASSES)
    return passes

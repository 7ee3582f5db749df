"""The `Target` interface every backend implements (compare IREE's TargetBackend, TVM's BYOC).

A target declares its options once (`options_class`, a dataclass of `option(...)` fields that
lives with the target's run-time description, so the runtime reads the same declaration),
which core-IR ops it accelerates (`supports`), the registered passes that lower its segments
after partitioning (`pipeline`, pass specs with no options of their own: each pass reads the
options from the segment's `#tsuc.target<...>` attribute), views of the lowered IR for
`--emit` (`views`), and how one lowered segment becomes artifact members plus a manifest
entry (`emit_segment`).

Targets are plugins: `tsuc.targets` entry points name their classes (see `registry.py`), so
a separate package adds a target (and, through `tsuc.executors`, its executor) without any
change to tsuc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tsuc.runtime.options import Options

if TYPE_CHECKING:
    from xdsl.ir import Operation

    from tsuc.compiler.emit import EmitContext
    from tsuc.dialects.tsuc import SegmentOp


@dataclass(frozen=True)
class NoOptions(Options):
    """The options of a target that has none."""


class Target:
    """Base class; subclasses set the class variables and override the hooks they need."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options_class: ClassVar[type[Options]] = NoOptions
    accelerates: ClassVar[frozenset[str]] = frozenset()
    """Core op names this target runs when their conditions hold; any of them left on the host
    is reported as a compile note with `unsupported_reason`."""
    extra: ClassVar[str | None] = None
    """The optional extra (`pip install tsuc[extra]`) that installs what `requires` names."""
    requires: ClassVar[tuple[str, ...]] = ()
    """Modules the target needs at compile or run time beyond tsuc's own dependencies."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options if options is not None else self.options_class.create()

    @classmethod
    def create(cls, raw: dict[str, Any] | None = None) -> Target:
        """The target with `raw` options (strings from the CLI or Python values), checked."""
        return cls(cls.options_class.create(raw))

    @property
    def values(self) -> dict[str, Any]:
        return self.options.values()

    def __getitem__(self, key: str) -> Any:
        return getattr(self.options, key)

    def spec(self) -> str:
        """`name{key=value ...}`: the target with every resolved option, in the spec syntax."""
        return self.options.spec() if self.options.values() else self.name

    # -- hooks ------------------------------------------------------------------------------

    def supports(self, op: Operation) -> bool:
        """Whether this core-IR (`onnx` dialect) op runs on the target."""
        return False

    def unsupported_reason(self, op: Operation) -> str:
        """Why `supports(op)` is false, for compile notes and the `fallback=error` message."""
        return f"target {self.name} does not run {op.name}"

    def pipeline(self) -> list[str]:
        """Registered passes (pass specs) that lower this target's segments after partitioning."""
        return []

    def views(self) -> dict[str, list[str]]:
        """Extra `--emit` stages: name -> passes applied to the lowered IR (views only; the
        emitter never reads them). Names must not clash with other targets' views."""
        return {}

    def render(self, view: str, module: Any, weights: bool = True) -> str | None:
        """The text `--emit=<view>` prints for one of this target's views, when it is not the
        module as tsuc prints it (e.g. XLA HLO text, upstream MLIR); None prints the module
        after the view's passes. `weights`: False when the user asked to elide them."""
        return None

    def emit_segment(self, segment: SegmentOp, ctx: EmitContext) -> dict[str, Any]:
        """Turn one of this target's lowered segments into artifact members; return its manifest
        entry (`kind`, `config`; the driver fills `name`, `target`, `inputs`, `outputs`, `members`)."""
        from tsuc.errors import TsucError

        raise TsucError(f"target {self.name} cannot emit segment {segment.sym_name.data}")

    def finish_segments(self, segments: list[dict[str, Any]], builder: Any, graph_outputs: list[str]) -> list[dict[str, Any]]:
        """After every segment is emitted: the manifest's segment list, possibly rewritten
        (e.g. runs of segments merged into one); `builder` holds the members written so far
        (`member_bytes`), `graph_outputs` the names the artifact returns."""
        return segments

    def import_object(self, obj: Any) -> Any:
        """A module for an in-memory problem object this target understands (or None)."""
        return None

    def input_formats(self) -> dict[str, Any]:
        """Extra frontends this target adds (format name -> callable(path, target) -> module)."""
        return {}

"""The `Target` interface every backend implements (compare IREE's TargetBackend, TVM's BYOC).

A target declares its options, which core-IR ops it accelerates (`supports`), the lowering
passes it runs on its segments after partitioning (`pipeline`), and how it turns one
partitioned segment into artifact members plus a manifest entry (`emit_segment`). Ops it does
not support land in host segments that run on onnxruntime, so every model compiles for every
target; the option `fallback=error` turns that into an error listing every such op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tsuc.errors import TsucError

if TYPE_CHECKING:
    from xdsl.ir import Operation
    from xdsl.passes import ModulePass

    from tsuc.compiler.emit import EmitContext
    from tsuc.dialects.tsuc import SegmentOp


@dataclass(frozen=True)
class Option:
    """A typed target option with a default, shown by `tsuc targets`."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, target: str, raw: Any) -> Any:
        where = f"option {self.name}={raw!r} of target {target}"
        if self.type is bool and isinstance(raw, str):
            lowered = raw.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise TsucError(f"{where} is not a boolean (use true or false)")
            value: Any = lowered in ("1", "true", "yes", "on")
        else:
            try:
                value = self.type(int(raw, 0) if self.type is int and isinstance(raw, str) else raw)
            except (TypeError, ValueError, OverflowError):
                raise TsucError(f"{where} is not a valid {self.type.__name__}") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise TsucError(f"{where} is not a finite number")
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise TsucError(f"{where} does not fit in 64 bits")
        if self.choices is not None and value not in self.choices:
            raise TsucError(f"{where} must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise TsucError(f"{where} must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise TsucError(f"{where} must be at most {self.maximum}")
        return value

    def describe(self) -> str:
        extra = f" (one of {', '.join(map(str, self.choices))})" if self.choices else ""
        return f"{self.name}={self.default!r}: {self.help}{extra}"


COMMON_OPTIONS: tuple[Option, ...] = (
    Option("fallback", str, "host", "where ops the target cannot run go: host (onnxruntime) or error",
           choices=("host", "error")),
)


@dataclass
class Target:
    """Base class; subclasses set `name`, `description`, `options` and override the hooks."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    accelerates: ClassVar[frozenset[str]] = frozenset()
    """Core op names this target runs when their conditions hold; any of them left on the host
    is reported as a compile note with `unsupported_reason`."""
    emit_after: ClassVar[str | None] = None
    """The stage whose IR `emit_segment` reads; later stages are views for `--emit` only
    (None: the last stage)."""
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def all_options(cls) -> tuple[Option, ...]:
        return COMMON_OPTIONS + cls.options

    @classmethod
    def create(cls, raw: dict[str, Any] | None = None) -> Target:
        """Validate `raw` options (strings from the CLI or Python values) against the declared ones."""
        if raw is not None and not isinstance(raw, dict):
            raise TsucError(f"target {cls.name}'s options must be a dict {{name: value}}, not a {type(raw).__name__}")
        raw = dict(raw or {})
        declared = {o.name: o for o in cls.all_options()}
        unknown = sorted(set(raw) - set(declared))
        if unknown:
            raise TsucError(
                f"unknown option(s) {', '.join(unknown)} for target {cls.name} "
                f"(options: {', '.join(sorted(declared))}; see `tsuc targets`)"
            )
        values = {name: (opt.parse(cls.name, raw[name]) if name in raw else opt.default) for name, opt in declared.items()}
        target = cls(values=values)
        target.validate()
        return target

    def validate(self) -> None:
        """Cross-option checks; raise TsucError with one sentence."""

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    # -- hooks ------------------------------------------------------------------------------

    def supports(self, op: Operation) -> bool:
        """Whether this core-IR (`onnx` dialect) op runs on the target."""
        return False

    def unsupported_reason(self, op: Operation) -> str:
        """Why `supports(op)` is false, for the `fallback=error` message."""
        return f"target {self.name} does not run {op.name}"

    def pipeline(self) -> list[ModulePass]:
        """Lowering passes applied after partitioning; they rewrite this target's segments."""
        return []

    def emit_segment(self, segment: SegmentOp, ctx: EmitContext) -> dict[str, Any]:
        """Turn one of this target's segments into artifact members; return its manifest entry
        (`kind`, `members`, `config`; the driver fills `name`, `target`, `inputs`, `outputs`)."""
        raise TsucError(f"target {self.name} cannot emit segment {segment.sym_name.data}")

    def import_object(self, obj: Any) -> Any:
        """A module for an in-memory problem object this target understands (or None)."""
        return None

    def input_formats(self) -> dict[str, Any]:
        """Extra frontends this target adds (format name -> callable(path, target) -> module)."""
        return {}

"""Options and run parameters, declared once as dataclass fields.

A target's options (`--option tfmbs.w_planes=2`) and an executor's run parameters
(`--param tsu.reads=20`) are frozen dataclasses whose fields carry their type, default,
range or choices and help text (`option(...)`). One declaration serves `tsuc targets`, the
CLI, the `#tsuc.target<...>` attribute the compiler puts on each segment, the lowering passes,
the emitter and the runtime; nothing repeats a default.

The textual form is xDSL's pass-spec syntax, `tfmbs{w_planes=2 tiles=8}`, so a list of
targets reads `tfmbs{w_planes=2},tsu`. This module is run-time code (it must not import xDSL),
so it has its own small parser for that syntax.

Every value is checked when an instance is made: ill-typed, non-finite, out-of-range or
unknown values raise `TsucError` with one sentence naming the option and its target.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tsuc.errors import TsucError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
INT64_MAX = (1 << 63) - 1


def option(default: Any, help: str, *, choices: tuple[Any, ...] | None = None, minimum: float | None = None,
           maximum: float | None = None) -> Any:
    """A declared option field: `w_planes: int = option(1, "planes", minimum=1, maximum=8)`."""
    return field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class OptionInfo:
    """What one field declares (read from the dataclass, shown by `tsuc targets`)."""

    name: str
    type: type
    optional: bool
    default: Any
    help: str
    choices: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None

    def describe(self) -> str:
        rng = ""
        if self.choices:
            rng = f" (one of {', '.join(map(str, self.choices))})"
        elif self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else f"{_num(self.minimum)} <= "
            hi = "" if self.maximum is None else f" <= {_num(self.maximum)}"
            rng = f" ({lo}{self.name}{hi})"
        return f"{self.name}={format_value(self.default)}: {self.help}{rng}"

    def convert(self, where: str, raw: Any) -> Any:
        """`raw` (a string from the command line or a Python/JSON value) as a checked value."""
        if raw is None or (isinstance(raw, str) and raw.lower() == "none" and self.optional):
            if self.optional:
                return None
            raise TsucError(f"{where} needs a value")
        value = _convert_type(self.type, where, raw)
        if self.choices is not None and value not in self.choices:
            raise TsucError(f"{where} must be one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise TsucError(f"{where} must be at least {_num(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise TsucError(f"{where} must be at most {_num(self.maximum)}")
        return value


def _num(x: float) -> str:
    """A bound as people write it: 10000000, 0.001, 1e+12."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _convert_type(kind: type, where: str, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise TsucError(f"{where} is not a boolean (use true or false)")
    if kind is int:
        if isinstance(raw, bool):
            raise TsucError(f"{where} is not an integer")
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer() and math.isfinite(raw):
            value = int(raw)
        elif isinstance(raw, str):
            try:
                value = int(raw.strip(), 0)
            except ValueError:
                raise TsucError(f"{where} is not an integer") from None
        else:
            raise TsucError(f"{where} is not an integer")
        if abs(value) > INT64_MAX:
            raise TsucError(f"{where} does not fit in 64 bits")
        return value
    if kind is float:
        if isinstance(raw, bool):
            raise TsucError(f"{where} is not a number")
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise TsucError(f"{where} is not a number") from None
        if not math.isfinite(value):
            raise TsucError(f"{where} must be finite")
        return value
    if kind is str:
        if not isinstance(raw, str):
            raise TsucError(f"{where} is not a string")
        return raw
    raise TypeError(f"option type {kind!r} is not supported")  # a declaration bug, not user input


def format_value(value: Any) -> str:
    """A value in the spec syntax: bare words, `true`/`false`, numbers the spec lexer reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp}"
        return text
    if isinstance(value, str) and not _IDENT.match(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@dataclass(frozen=True)
class Options:
    """Base of every declared option set; subclasses are frozen dataclasses of `option` fields.

    `namespace` is the target name the options belong to (`tfmbs`); `noun` says what they are
    in messages ("option" or "parameter")."""

    namespace: ClassVar[str] = ""
    noun: ClassVar[str] = "option"

    def __post_init__(self) -> None:
        for info in self.declared().values():
            where = f"{self.noun} {self.qualified(info.name)}={format_value(getattr(self, info.name))}"
            object.__setattr__(self, info.name, info.convert(where, getattr(self, info.name)))
        self.validate()

    def validate(self) -> None:
        """Checks across options; raise `TsucError` with one sentence naming them."""

    @classmethod
    def qualified(cls, name: str) -> str:
        return f"{cls.namespace}.{name}" if cls.namespace else name

    @classmethod
    def declared(cls) -> dict[str, OptionInfo]:
        cached = cls.__dict__.get("_declared_cache")
        if cached is not None:
            return cached
        hints = typing.get_type_hints(cls)
        infos = {}
        for f in dataclasses.fields(cls):
            kind, optional = _unwrap_optional(hints[f.name])
            meta = f.metadata
            infos[f.name] = OptionInfo(f.name, kind, optional, f.default, meta.get("help", ""), meta.get("choices"),
                                       meta.get("minimum"), meta.get("maximum"))
        type.__setattr__(cls, "_declared_cache", infos)
        return infos

    @classmethod
    def create(cls, raw: Mapping[str, Any] | None = None) -> Options:
        """Options from strings (command line) or Python/JSON values; missing ones take defaults."""
        if raw is not None and not isinstance(raw, Mapping):
            raise TsucError(f"the {cls.namespace or 'compiler'} {cls.noun}s must be a dict {{name: value}}, "
                            f"not a {type(raw).__name__}")
        raw = dict(raw or {})
        declared = cls.declared()
        unknown = sorted(k for k in raw if k not in declared)
        if unknown:
            what = cls.noun + ("s" if len(unknown) > 1 else "")
            known = ", ".join(declared) or "none"
            raise TsucError(f"unknown {what} {', '.join(cls.qualified(k) for k in unknown)} "
                            f"(the {cls.namespace or 'compiler'} {cls.noun}s are: {known})")
        values = {}
        for name, info in declared.items():
            if name in raw:
                values[name] = info.convert(f"{cls.noun} {cls.qualified(name)}={format_value(raw[name]) if not isinstance(raw[name], str) else raw[name]}", raw[name])
        return cls(**values)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.declared()}

    def spec(self) -> str:
        """`namespace{key=value ...}` with every value (the resolved form)."""
        body = " ".join(f"{k}={format_value(v)}" for k, v in self.values().items())
        return f"{self.namespace}{{{body}}}" if body else self.namespace

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)


def _unwrap_optional(hint: Any) -> tuple[type, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


# -- the spec syntax ---------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<word>[^\s{}=,"]+)|(?P<punct>[{}=,]))')


def parse_spec_list(text: str, what: str = "--target") -> list[tuple[str, dict[str, str]]]:
    """`tfmbs{w_planes=2 tiles=8},tsu` -> [("tfmbs", {"w_planes": "2", "tiles": "8"}), ("tsu", {})].

    Values stay strings (quoted strings unquoted); keys may use `-` for `_` as in xDSL."""
    tokens = _tokens(text, what)
    out: list[tuple[str, dict[str, str]]] = []
    i = 0

    def bad(msg: str) -> TsucError:
        return TsucError(f"{what} {text!r}: {msg}")

    while i < len(tokens):
        kind, tok = tokens[i]
        if kind != "word":
            raise bad(f"expected a target name, found {tok!r}")
        name, args = tok, {}
        i += 1
        if i < len(tokens) and tokens[i] == ("punct", "{"):
            i += 1
            while i < len(tokens) and tokens[i] != ("punct", "}"):
                kind, key = tokens[i]
                if kind != "word":
                    raise bad(f"expected an option name, found {key!r}")
                if i + 2 >= len(tokens) or tokens[i + 1] != ("punct", "="):
                    raise bad(f"option {key!r} needs a value (KEY=VALUE)")
                vkind, value = tokens[i + 2]
                if vkind == "punct":
                    raise bad(f"option {key!r} needs a value (KEY=VALUE)")
                if vkind == "str":
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                key = key.replace("-", "_")
                if key in args:
                    raise bad(f"option {key!r} is given twice")
                args[key] = value
                i += 3
            if i >= len(tokens):
                raise bad("missing '}'")
            i += 1
        out.append((name, args))
        if i < len(tokens):
            if tokens[i] != ("punct", ","):
                raise bad(f"expected ',' between targets, found {tokens[i][1]!r}")
            i += 1
            if i >= len(tokens):
                raise bad("a target name is missing after ','")
    if not out:
        raise TsucError(f"{what} is empty (name at least one target)")
    return out


def _tokens(text: str, what: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TsucError(f"{what} {text!r}: cannot read it from position {pos}")
        kind = m.lastgroup or "word"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def split_namespaced(items: Mapping[str, Any], namespaces: dict[str, set[str]], noun: str,
                     global_keys: set[str] = frozenset()) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Route `ns.key=value` and bare `key=value` items to their namespace.

    `namespaces` maps each listed target to the keys it declares. A bare key goes to the one
    namespace that has it (or to the globals in `global_keys`); a bare key that several
    targets declare, or none, is an error naming them."""
    routed: dict[str, dict[str, Any]] = {ns: {} for ns in namespaces}
    globals_: dict[str, Any] = {}
    for key, value in items.items():
        ns, dot, name = key.partition(".")
        if dot:
            if ns not in namespaces:
                listed = ", ".join(namespaces) or "none"
                raise TsucError(f"{noun} {key}: {ns!r} is not one of the listed targets ({listed})")
            _route(routed[ns], ns, name, value, noun)
            continue
        if key in global_keys:
            globals_[key] = value
            continue
        owners = [n for n, keys in namespaces.items() if key in keys]
        if len(owners) == 1:
            _route(routed[owners[0]], owners[0], key, value, noun)
        elif owners:
            raise TsucError(f"{noun} {key} is ambiguous: targets {', '.join(owners)} all have it "
                            f"(write {' or '.join(f'{o}.{key}' for o in owners)})")
        else:
            known = sorted({f"{n}.{k}" for n, keys in namespaces.items() for k in keys} | set(global_keys))
            raise TsucError(f"unknown {noun} {key} (known: {', '.join(known) or 'none'})")
    return routed, globals_


def _route(into: dict[str, Any], ns: str, name: str, value: Any, noun: str) -> None:
    if name in into:
        raise TsucError(f"{noun} {ns}.{name} is given twice (once bare, once as {ns}.{name})")
    into[name] = value

"""The `tsuc` command line (click).

Every user error ends in one line `error: ...` on stderr and exit status 1; `--debug` shows
the traceback instead. Usage errors exit 2, as click does.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from typing import Any

import click
import numpy as np

from tsuc.errors import TsucError
from tsuc.version import __version__


class _State:
    debug = False


def _fail(err: BaseException) -> None:
    if _State.debug:
        traceback.print_exception(err)
    message = str(err) if isinstance(err, TsucError) else f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)"
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(1)


class TsucGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # `tsuc run ... | head`: the reader left; that is not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except Exception as err:  # noqa: BLE001 - the one place that turns errors into messages
            _fail(err)


@click.group(cls=TsucGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(__version__, prog_name="tsuc")
def main(debug: bool) -> None:
    """tsuc: compile models and Ising problems for unconventional AI hardware."""
    _State.debug = debug


def _key_values(items: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TsucError(f"{what} {item!r} is not of the form KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _shapes(items: tuple[str, ...]) -> dict[str, list[int]]:
    from tsuc.compiler.frontends.onnx_import import parse_shape

    return {k: parse_shape(v) for k, v in _key_values(items, "--input-shape").items()}


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="cpu", show_default=True, help="Target name (see `tsuc targets`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Artifact path [default: MODEL stem + .tsuc].")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Target option (repeatable).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x224x224", help="Fix an input's dynamic dimensions.")
@click.option("--input-format", help="Input format when the extension does not say (onnx, gset, bqm).")
@click.option("--emit", metavar="STAGE", help="Stop after STAGE (core, partitioned, target, ...) and print the IR.")
@click.option("--print-debuginfo", is_flag=True, help="With --emit: print op locations (ONNX node names).")
@click.option("--elide-weights", is_flag=True, help="With --emit: leave weight blobs out of the printed IR (handles only).")
def compile(model: str, target: str, output: str | None, options: tuple[str, ...], input_shapes: tuple[str, ...],  # noqa: A001
            input_format: str | None, emit: str | None, print_debuginfo: bool, elide_weights: bool) -> None:
    """Compile MODEL (ONNX file or problem file) into a .tsuc artifact."""
    from tsuc.compiler.driver import compile_model, lower
    from tsuc.targets.registry import get_target

    tgt = get_target(target, _key_values(options, "--option"))
    shapes = _shapes(input_shapes)
    if emit:
        _module, _name, _prov, text = lower(model, tgt, shapes, None, input_format, emit=emit, debuginfo=print_debuginfo,
                                         elide_weights=elide_weights)
        click.echo(text, nl=False)
        return
    out = output or os.path.splitext(os.path.basename(model))[0] + ".tsuc"
    command = " ".join(["tsuc compile", os.path.basename(model), f"--target={target}"] + [f"--option {o}" for o in options]
                       + [f"--input-shape {s}" for s in input_shapes])
    with _progress(f"compiling {os.path.basename(model)} for {target}"):
        exe = compile_model(model, target=tgt, output=out, input_shapes=shapes, input_format=input_format, command=command)
    notes = exe.manifest.get("notes", [])
    for note in notes[:5]:
        click.echo(f"note: {note}", err=True)
    if len(notes) > 5:
        click.echo(f"note: ... and {len(notes) - 5} more (tsuc inspect lists them all)", err=True)
    stats = exe.manifest["op_stats"]
    by = ", ".join(f"{k}: {v}" for k, v in stats.get("by_target", {}).items())
    click.echo(f"wrote {out} ({os.path.getsize(out):,} bytes; {len(exe.manifest['segments'])} segment(s); ops {by})")


class _progress:
    """A spinner on a terminal, nothing otherwise."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._status = None

    def __enter__(self):
        if sys.stderr.isatty():
            from rich.console import Console

            self._status = Console(stderr=True).status(self.text)
            self._status.__enter__()
        return self

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.__exit__(*exc)
        return False


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "output"


def make_random_inputs(specs, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in specs:
        shape = [1 if d is None or d < 0 else d for d in spec.shape]
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[spec.name] = rng.integers(0, 10, shape).astype(dtype)
    return feeds


def _load_inputs(items: tuple[str, ...]) -> dict[str, np.ndarray]:
    feeds = {}
    for name, path in _key_values(items, "--input").items():
        if not os.path.isfile(path):
            raise TsucError(f"--input {name}={path}: no such file")
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except Exception:
            raise TsucError(f"--input {name}={path}: not a .npy array file") from None
    return feeds


@main.command()
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy", help="An input array (repeatable).")
@click.option("--random-inputs", is_flag=True, help="Feed random inputs of the artifact's signature.")
@click.option("--seed", default=0, show_default=True, help="Seed for --random-inputs.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run-time parameter (repeatable).")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Write each output to DIR/<name>.npy.")
@click.option("--profile", is_flag=True, help="Print the profile (host time, target cycles, ...).")
@click.option("--profile-json", type=click.Path(dir_okay=False), help="Write the profile as JSON.")
@click.option("--trace", type=click.Path(dir_okay=False), help="Write a Chrome/Perfetto trace of the simulated timeline.")
def run(artifact: str, inputs: tuple[str, ...], random_inputs: bool, seed: int, params: tuple[str, ...],
        output_dir: str | None, profile: bool, profile_json: str | None, trace: str | None) -> None:
    """Run ARTIFACT and print its outputs."""
    from tsuc.runtime import load

    exe = load(artifact)
    feeds = _load_inputs(inputs)
    if random_inputs:
        feeds = {**make_random_inputs(exe.inputs, seed), **feeds}
    outs = exe.run(feeds, **_key_values(params, "--param"))
    for line in _summaries(exe, outs):
        click.echo(line)
    for name, value in outs.items():
        arr = np.asarray(value)
        click.echo(f"{name}: {arr.dtype}{list(arr.shape)} {_preview(arr)}")
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        for name, value in outs.items():
            np.save(os.path.join(output_dir, _safe_filename(name) + ".npy"), np.asarray(value), allow_pickle=False)
    prof = exe.profile()
    if profile:
        click.echo(format_profile(prof))
    if profile_json:
        with open(profile_json, "w") as f:
            json.dump(prof, f, indent=1, default=_jsonable)
    if trace:
        events = exe.trace_events()
        with open(trace, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ns"}, f)
        click.echo(f"wrote {len(events)} trace events to {trace}")


def _summaries(exe: Any, outs: dict[str, Any]) -> list[str]:
    lines = []
    for ex in exe.executors:
        summary = getattr(ex, "summary", None)
        if callable(summary):
            lines.extend(summary(outs))
    return lines


def _preview(arr: np.ndarray) -> str:
    flat = arr.ravel()
    if flat.size == 0:
        return "[]"
    body = np.array2string(flat[:6], precision=5, separator=", ")
    return body if flat.size <= 6 else body[:-1] + ", ...]"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def format_profile(prof: dict[str, Any]) -> str:
    lines = [f"profile (target {prof.get('target')}):"]
    for seg in prof.get("segments", []):
        fields = ", ".join(f"{k}={_fmt(v)}" for k, v in seg.items() if k not in ("name", "kind", "target") and not isinstance(v, (list, dict)))
        lines.append(f"  {seg['name']} [{seg['target']}/{seg['kind']}]: {fields}")
        for key, value in seg.items():
            if isinstance(value, dict):
                lines.append(f"    {key}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"    {key}:")
                for item in value:
                    lines.append("      " + ", ".join(f"{k}={_fmt(v)}" for k, v in item.items()))
            elif isinstance(value, list):
                lines.append(f"    {key}: {value}")
    total = prof.get("total", {})
    lines.append("  total: " + ", ".join(f"{k}={_fmt(v)}" for k, v in total.items()))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@main.command()
@click.argument("artifact", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def inspect(artifact: str, as_json: bool) -> None:
    """Show what ARTIFACT holds: target, signatures, segments, op statistics."""
    from tsuc.runtime import load

    exe = load(artifact)
    m = exe.manifest
    if as_json:
        click.echo(json.dumps(m, indent=1, sort_keys=True))
        return
    click.echo(f"{artifact}: tsuc artifact format {m['format_version']}, written by tsuc {m['compiler_version']}")
    click.echo(f"target: {m['target']['name']} " + " ".join(f"{k}={v}" for k, v in sorted(m['target']['options'].items())))
    if m.get("command"):
        click.echo(f"command: {m['command']}")
    for title, specs in (("inputs", exe.inputs), ("outputs", exe.outputs)):
        click.echo(f"{title}:")
        for s in specs:
            click.echo(f"  {s.name}: {s.dtype}[{'x'.join('?' if d is None else str(d) for d in s.shape)}]")
    click.echo(f"segments ({len(m['segments'])}):")
    for seg, ex in zip(m["segments"], exe.executors):
        ops = ", ".join(f"{k.split('.', 1)[-1]} x{v}" for k, v in seg.get("ops", {}).items())
        click.echo(f"  {seg['name']} [{seg['target']}/{seg['kind']}] {len(seg['inputs'])} in, {len(seg['outputs'])} out: {ops}")
        describe = getattr(type(ex), "describe", None)
        if callable(describe):
            for line in describe(seg):
                click.echo(f"    {line}")
    for note in m.get("notes", []):
        click.echo(f"note: {note}")
    stats = m.get("op_stats", {})
    click.echo(f"op statistics: {stats.get('total', 0)} ops; " + ", ".join(f"{k}: {v}" for k, v in stats.get("by_target", {}).items()))
    size = sum(e["size"] for e in m["members"].values())
    click.echo(f"members: {len(m['members'])} ({size:,} bytes)")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="cpu", show_default=True)
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x224x224")
@click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--rtol", default=1e-3, show_default=True)
@click.option("--atol", default=1e-4, show_default=True)
@click.option("--all-layers", is_flag=True, help="Compare every intermediate tensor; name the first node that diverges.")
def verify(model: str, target: str, options: tuple[str, ...], input_shapes: tuple[str, ...], inputs: tuple[str, ...],
           seed: int, rtol: float, atol: float, all_layers: bool) -> None:
    """Compile MODEL, run it, and compare with onnxruntime running the original file."""
    from tsuc.tools.verify import verify_model

    report = verify_model(model, target, _key_values(options, "--option"), _shapes(input_shapes), _load_inputs(inputs),
                          seed, rtol, atol, all_layers)
    for line in report.lines:
        click.echo(line)
    if not report.ok:
        raise TsucError(report.failure)


@main.command()
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False), default="-")
@click.option("-p", "--passes", "pipeline", default="", help="Comma-separated pass pipeline, xdsl-opt syntax.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the result here instead of stdout.")
@click.option("--verify-diagnostics", is_flag=True, help="Print verifier errors on stdout and exit 0 (for lit tests).")
@click.option("--print-debuginfo", is_flag=True, help="Print op locations.")
def opt(file: str, pipeline: str, output: str | None, verify_diagnostics: bool, print_debuginfo: bool) -> None:
    """Parse FILE (MLIR text; '-' for stdin), run PIPELINE, print the result."""
    from tsuc.tools.opt import run_opt

    text = sys.stdin.read() if file == "-" else _read_text(file)
    ok, result = run_opt(text, file, pipeline, verify_diagnostics, print_debuginfo)
    if output:
        with open(output, "w") as f:
            f.write(result)
    else:
        click.echo(result, nl=False)
    if not ok:
        sys.exit(1)


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        raise TsucError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        return f.read()


@main.command()
@click.option("--json", "as_json", is_flag=True)
def targets(as_json: bool) -> None:
    """List targets, their options and defaults."""
    from tsuc.targets.registry import available_targets, target_class

    table = {}
    for name in available_targets():
        cls = target_class(name)
        table[name] = {"description": cls.description,
                       "options": [{"name": o.name, "default": o.default, "help": o.help,
                                    "choices": list(o.choices) if o.choices else None} for o in cls.all_options()]}
    if as_json:
        click.echo(json.dumps(table, indent=1))
        return
    for name, info in table.items():
        click.echo(f"{name}: {info['description']}")
        for o in target_class(name).all_options():
            click.echo(f"    {o.describe()}")


if __name__ == "__main__":
    main()

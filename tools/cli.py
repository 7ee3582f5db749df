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
@click.option("--target", "-t", default="cpu", show_default=True,
              help="Targets in order of preference: NAME[,NAME...], each optionally NAME{key=value ...} (see `tsuc targets`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Artifact path [default: MODEL stem + .tsuc].")
@click.option("--option", "options", multiple=True, metavar="[TARGET.]KEY=VALUE",
              help="Target option (repeatable); the bare KEY when one listed target has it; fallback=host|error.")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=1x3x224x224", help="Fix an input's dynamic dimensions.")
@click.option("--input-format", help="Input format when the extension does not say (onnx, gset, bqm).")
@click.option("--emit", metavar="STAGE", help="Stop after STAGE (core, partitioned, lowered, or a target view such as linalg) and print the IR.")
@click.option("--print-pipeline", is_flag=True, help="Print the pass pipeline from core to lowered (for `tsuc opt -p`) and stop.")
@click.option("--print-debuginfo/--no-print-debuginfo", default=True, show_default=True,
              help="With --emit: print op locations (ONNX node names).")
@click.option("--elide-weights", is_flag=True, help="With --emit: leave the weight blobs out of the printed IR.")
def compile(model: str, target: str, output: str | None, options: tuple[str, ...], input_shapes: tuple[str, ...],  # noqa: A001
            input_format: str | None, emit: str | None, print_pipeline: bool, print_debuginfo: bool,
            elide_weights: bool) -> None:
    """Compile MODEL (ONNX file or problem file) into a .tsuc artifact."""
    from tsuc.compiler.driver import compile_model, lower, lowering_pipeline
    from tsuc.targets.registry import resolve_targets

    _compile_gc()

    targets, compile_opts = resolve_targets(target, _key_values(options, "--option"))
    if print_pipeline:
        click.echo(",".join(lowering_pipeline(targets, compile_opts["fallback"])))
        return
    shapes = _shapes(input_shapes)
    if emit:
        _module, _name, _prov, text = lower(model, targets, shapes, None, input_format, emit=emit,
                                            fallback=compile_opts["fallback"], debuginfo=print_debuginfo,
                                            weights=not elide_weights)
        click.echo(text, nl=False)
        return
    out = output or os.path.splitext(os.path.basename(model))[0] + ".tsuc"
    from tsuc.tools.paths import check_output_file

    check_output_file(out, "-o")
    command = " ".join(["tsuc compile", os.path.basename(model), f"--target={target}"] + [f"--option {o}" for o in options]
                       + [f"--input-shape {s}" for s in input_shapes])
    with _progress(f"compiling {os.path.basename(model)} for {target}"):
        exe = compile_model(model, target=targets, output=out, options=compile_opts, input_shapes=shapes,
                            input_format=input_format, command=command, warm=False)
    notes = exe.manifest.get("notes", [])
    for note in notes[:5]:
        click.echo(f"note: {note}", err=True)
    if len(notes) > 5:
        click.echo(f"note: ... and {len(notes) - 5} more (tsuc inspect lists them all)", err=True)
    stats = exe.manifest["op_stats"]
    by = ", ".join(f"{k}: {v}" for k, v in stats.get("by_target", {}).items())
    click.echo(f"wrote {out} ({os.path.getsize(out):,} bytes; {len(exe.manifest['segments'])} segment(s); ops {by})")


def _compile_gc() -> None:
    """A compile builds an IR of ~10 objects per op that lives until the process ends; with
    the default thresholds Python's cycle collector re-traversed it, and the modules imported
    before it, a few hundred times (6-9% of a ResNet-50 compile). This process compiles once
    and exits, so the imported objects are frozen out of collection and collections made rarer."""
    import gc

    gc.freeze()
    gc.set_threshold(10000, 20, 20)


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
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**63 - 1), help="Seed for --random-inputs.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Run-time parameter (repeatable).")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Write each output to DIR/<name>.npy.")
@click.option("--profile", is_flag=True, help="Print the profile (host time, target cycles, ...).")
@click.option("--profile-json", type=click.Path(dir_okay=False), help="Write the profile as JSON.")
@click.option("--trace", type=click.Path(dir_okay=False), help="Write a Chrome/Perfetto trace of the simulated timeline.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Draw the simulated timeline (segments, tiles, energies) to a PNG.")
def run(artifact: str, inputs: tuple[str, ...], random_inputs: bool, seed: int, params: tuple[str, ...],
        output_dir: str | None, profile: bool, profile_json: str | None, trace: str | None, plot: str | None) -> None:
    """Run ARTIFACT and print its outputs."""
    from tsuc.runtime import load
    from tsuc.runtime.inputs import make_random_inputs
    from tsuc.runtime.report import format_profile, jsonable
    from tsuc.tools.paths import check_output_dir, check_output_file

    check_output_dir(output_dir, "--output-dir")
    check_output_file(profile_json, "--profile-json")
    check_output_file(trace, "--trace")
    check_output_file(plot, "--plot")
    exe = load(artifact)
    feeds = _load_inputs(inputs)
    if random_inputs:
        feeds = {**make_random_inputs(exe.inputs, seed), **feeds}
    with _progress(f"running {os.path.basename(artifact)}"):
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
            json.dump(prof, f, indent=1, default=jsonable)
    if trace:
        events = exe.trace_events()
        with open(trace, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ns"}, f)
        click.echo(f"wrote {len(events)} trace events to {trace}")
    if plot:
        from tsuc.tools.plot import plot_timeline

        plot_timeline(exe, outs, plot)
        click.echo(f"wrote the timeline plot to {plot}")


def _summaries(exe: Any, outs: dict[str, Any]) -> list[str]:
    return [line for ex in exe.executors for line in ex.summary(outs)]


def _preview(arr: np.ndarray) -> str:
    flat = arr.ravel()
    if flat.size == 0:
        return "[]"
    body = np.array2string(flat[:6], precision=5, separator=", ")
    return body if flat.size <= 6 else body[:-1] + ", ...]"


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
    for t in m["targets"]:
        click.echo(f"target {t['name']}: " + " ".join(f"{k}={v}" for k, v in t["options"].items()))
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
        for line in type(ex).describe(seg):
            click.echo(f"    {line}")
    for note in m.get("notes", []):
        click.echo(f"note: {note}")
    stats = m.get("op_stats", {})
    click.echo(f"op statistics: {stats.get('total', 0)} ops; " + ", ".join(f"{k}: {v}" for k, v in stats.get("by_target", {}).items()))
    size = sum(e["size"] for e in m["members"].values())
    click.echo(f"members: {len(m['members'])} ({size:,} bytes)")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", default="cpu", show_default=True, help="Targets, as for `tsuc compile`.")
@click.option("--option", "options", multiple=True, metavar="[TARGET.]KEY=VALUE")
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

    with _progress(f"verifying {os.path.basename(model)} on {target}"):
        report = verify_model(model, target, _key_values(options, "--option"), _shapes(input_shapes),
                              _load_inputs(inputs), seed, rtol, atol, all_layers)
    for line in report.lines:
        click.echo(line)
    if not report.ok:
        raise TsucError(report.failure)


@main.command()
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False), default="-")
@click.option("-p", "--passes", "pipeline", default="", help="Comma-separated pass pipeline, xdsl-opt syntax.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the result here instead of stdout.")
@click.option("--verify-diagnostics", is_flag=True, help="Print verifier errors on stdout and exit 0 (for lit tests).")
@click.option("--print-debuginfo/--no-print-debuginfo", default=True, show_default=True, help="Print op locations.")
@click.option("--elide-weights", is_flag=True, help="Leave the weight blobs out of the printed IR.")
def opt(file: str, pipeline: str, output: str | None, verify_diagnostics: bool, print_debuginfo: bool,
        elide_weights: bool) -> None:
    """Parse FILE (MLIR text; '-' for stdin), run PIPELINE, print the result."""
    from tsuc.tools.opt import run_opt

    text = sys.stdin.read() if file == "-" else _read_text(file)
    ok, result = run_opt(text, file, pipeline, verify_diagnostics, print_debuginfo, not elide_weights)
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
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help="Targets, as for `tsuc compile`.")
@click.option("--grid", "grids", multiple=True, required=True, metavar="[TARGET.]KEY=V1,V2,...",
              help="A swept option or run parameter and its values (repeatable; the points are the product).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A fixed run parameter (repeatable).")
@click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False), help="Folder of NAME.npy model inputs.")
@click.option("--random-inputs", is_flag=True, help="Random model inputs from --seed (the default without --inputs).")
@click.option("--seed", default=0, show_default=True, help="Seed for the random inputs.")
@click.option("--reference", default="cpu", show_default=True, help="Target whose outputs are the truth ('none': no accuracy).")
@click.option("--workers", default=2, show_default=True, help="Local Ray CPUs (or points in flight on a cluster); 0: no Ray.")
@click.option("--address", help="Join this Ray cluster (e.g. 10.0.0.5:6379 or 'auto') instead of starting one.")
@click.option("-o", "--output-dir", required=True, type=click.Path(file_okay=False), help="Where sweep.csv and pareto.png go.")
def sweep(model: str, target: str, grids: tuple[str, ...], params: tuple[str, ...], inputs_dir: str | None,
          random_inputs: bool, seed: int, reference: str, workers: int, address: str | None, output_dir: str) -> None:
    """Compile and run MODEL at every point of a grid of options, as Ray tasks; tabulate and plot."""
    from tsuc.tools.sweep import parse_grid, progress_printer
    from tsuc.tools.sweep import sweep as run_sweep

    if inputs_dir and random_inputs:
        raise TsucError("give --inputs DIR or --random-inputs, not both")
    update, close = progress_printer()
    try:
        rows = run_sweep(model, target, parse_grid(grids), output_dir, params=_key_values(params, "--param"),
                         inputs=inputs_dir, seed=seed, reference=None if reference.lower() == "none" else reference,
                         workers=workers, address=address, progress=update)
    finally:
        close()
    failed = [r for r in rows if r.get("status") != "ok"]
    click.echo(f"{len(rows)} point(s), {len(failed)} failed; wrote {os.path.join(output_dir, 'sweep.csv')}"
               + (f" and {os.path.join(output_dir, 'pareto.png')}" if os.path.isfile(os.path.join(output_dir, "pareto.png")) else ""))
    for row in failed[:5]:
        click.echo(f"failed: {row['point']}: {row.get('error', '')}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def targets(as_json: bool) -> None:
    """List installed targets (plugins included), their options and defaults."""
    from tsuc.targets.registry import COMPILE_OPTIONS, installed_targets

    table: dict[str, Any] = {}
    for entry in installed_targets():
        if entry.cls is None:
            table[entry.name] = {"available": False, "problem": entry.problem}
            continue
        infos = entry.cls.options_class.declared().values()
        table[entry.name] = {"available": True, "description": entry.cls.description,
                             "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help,
                                          "choices": list(o.choices) if o.choices else None,
                                          "minimum": o.minimum, "maximum": o.maximum} for o in infos]}
    if as_json:
        click.echo(json.dumps(table, indent=1))
        return
    for name, info in table.items():
        if not info["available"]:
            click.echo(f"{name}: not available: {info['problem']}")
            continue
        click.echo(f"{name}: {info['description']}")
        cls = next(e.cls for e in installed_targets() if e.name == name)
        for o in cls.options_class.declared().values():
            click.echo(f"    {name}.{o.describe()}")
    click.echo("compile options: " + "; ".join(f"{k}={v[0]} (one of {', '.join(v)})" for k, v in COMPILE_OPTIONS.items()))


if __name__ == "__main__":
    main()

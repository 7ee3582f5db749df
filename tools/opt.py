"""`tsuc opt`: parse MLIR text, run a pass pipeline, print — xdsl-opt with tsuc's universe."""

from __future__ import annotations

import io

from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import DiagnosticException, ParseError, PassFailedException, VerifyException

from tsuc.compiler.driver import _verify_after, make_context, print_ir
from tsuc.compiler.resources import load_resources
from tsuc.compiler.universe import all_passes
from tsuc.errors import TsucError


def run_opt(text: str, filename: str, pipeline: str, verify_diagnostics: bool, debuginfo: bool = True,
            weights: bool = True) -> tuple[bool, str]:
    from xdsl.parser import Parser

    ctx = make_context()
    try:
        module = Parser(ctx, text, filename if filename != "-" else "<stdin>").parse_module()
        load_resources(ctx, module)
        module.verify()
        passes = PassPipeline.parse_spec(all_passes(), pipeline, callback=_verify_after) if pipeline else PassPipeline(())
        passes.apply(ctx, module)
        module.verify()
    except (VerifyException, ParseError, DiagnosticException, PassFailedException) as e:
        if verify_diagnostics:
            return True, str(e) + "\n"
        message = " ".join(str(e).split())
        raise TsucError(f"{filename}: {message}") from None
    except ValueError as e:  # unknown pass names and malformed pipelines
        raise TsucError(f"pipeline {pipeline!r}: {e}") from None
    out = io.StringIO()
    out.write(print_ir(module, debuginfo, weights))
    return True, out.getvalue()

"""The whole ONNX node test suite through `tsuc.compile(model, target="cpu")`.

Prints `passed/onnxruntime-passed, wrong W, crashes C`, then every case that is wrong,
crashed or refused with its message; then the same for onnx's on-disk sets (`simple/`,
`real/`, `pytorch-converted/`, `pytorch-operator/`, compared with their shipped outputs). The anchor is onnxruntime itself, run on the original
models in the same process: only the cases it passes count. Run under the CPU lock:

    flock /tmp/tsuc-cpu.lock python -m tsuc.benchmarks.conformance_node [-k SUBSTRING] [--no-disk] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from tsuc.tools.node_suite import ONNX_DATA_SETS, all_cases, disk_cases

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="only cases whose name contains this substring")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case before it counts as a crash")
    ap.add_argument("--json", help="write every case's outcome to this file")
    ap.add_argument("--no-disk", action="store_true", help="skip onnx's on-disk sets (simple/, real/, pytorch-*/)")
    args = ap.parse_args(argv)
    outcomes: dict[str, list] = {}
    status = run_set("node suite", [c for c in all_cases() if args.k in c.name], args, outcomes)
    if not args.no_disk:
        for subdir in ONNX_DATA_SETS:
            status |= run_set(f"{subdir}/", [c for c in disk_cases(subdir) if args.k in c.name], args, outcomes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(outcomes, f, indent=1)
    return status


def run_set(title: str, cases: list, args: argparse.Namespace, outcomes: dict[str, list]) -> int:
    from tsuc.tools.node_suite import onnxruntime_passes, run_case, summarize

    start = time.perf_counter()
    ort_ok = [c for c in cases if onnxruntime_passes(c)]
    t_ort = time.perf_counter() - start
    results = []
    for case in ort_ok:
        results.append(run_case(case, args.timeout))
    t_tsuc = time.perf_counter() - start - t_ort
    counts = summarize(results)
    print(f"{title}: {len(cases)} cases, onnxruntime passes {len(ort_ok)} (anchor, {t_ort:.0f} s); "
          f"tsuc cpu: {t_tsuc:.0f} s; load average {os.getloadavg()[0]:.2f}")
    print(f"{counts['pass']}/{len(ort_ok)} passed, wrong {counts['wrong']}, crashes {counts['crash']}, refused {counts['refused']}")
    for outcome in ("wrong", "crash", "refused"):
        for r in results:
            if r.outcome == outcome:
                print(f"  {outcome:8s} {r.name}: {r.message}")
    outcomes[title] = [r.__dict__ for r in results]
    return 0 if counts["wrong"] == 0 and counts["crash"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

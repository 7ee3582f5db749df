"""A fuzzing campaign over tsuc's input surfaces; prints `N cases, crash C, hang H, escape E`.

Cases come from `tsuc.tools.fuzz` (ONNX bytes and fields, tampered artifacts, options and
parameters, G-set and BQM files), one per seed, each in a child process with an address-space
limit (`resource.setrlimit(RLIMIT_AS)`) and a timeout, in its own folder of a sandbox whose
other files are watched for escapes. The campaign itself runs under a memory limit too, so a
generator bug cannot take the machine down. Run under the CPU lock:

    flock /tmp/tsuc-cpu.lock python -m tsuc.benchmarks.fuzz_campaign --minutes 20 [--start SEED] [--family NAME]
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    from tsuc.tools.fuzz import FAMILIES, MEMORY_LIMIT, TIMEOUT_S, make_case, run_isolated

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="stop starting cases after this long")
    ap.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: no limit)")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--family", choices=FAMILIES, help="only this family of cases")
    ap.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds a case may run before it counts as a hang")
    ap.add_argument("--memory-gib", type=float, default=MEMORY_LIMIT / (1 << 30), help="address-space limit of each case")
    args = ap.parse_args(argv)

    resource.setrlimit(resource.RLIMIT_AS, (12 << 30, 12 << 30))  # the campaign's own generators
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tsuc.tools.fuzz", "tsuc", "onnxruntime"])
    root = tempfile.mkdtemp(prefix="tsuc-fuzz-")
    sandbox = os.path.join(root, "sandbox")
    os.mkdir(sandbox)
    counts: collections.Counter[str] = collections.Counter()
    by_family: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures = []
    start = time.perf_counter()
    seed = args.start
    try:
        while time.perf_counter() - start < args.minutes * 60 and (not args.cases or sum(counts.values()) < args.cases):
            try:
                case = make_case(seed, args.family)
            except Exception as e:  # noqa: BLE001 - a generator bug is the harness's, reported apart
                counts["generator"] += 1
                failures.append(f"  generator seed {seed}: {type(e).__name__}: {e}")
                seed += 1
                continue
            outcome = run_isolated(case, sandbox, timeout=args.timeout, memory=int(args.memory_gib * (1 << 30)), ctx=ctx)
            counts[outcome.result] += 1
            by_family[case.family][outcome.result] += 1
            if outcome.result != "ok":
                line = f"  {outcome.result:6s} seed {seed} ({case.family}: {case.description}): {outcome.message}"
                failures.append(line)
                print(line, flush=True)
            seed += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    minutes = (time.perf_counter() - start) / 60
    n = sum(v for k, v in counts.items() if k != "generator")
    print(f"seeds {args.start}..{seed - 1}, {minutes:.1f} minutes, load average {os.getloadavg()[0]:.2f}")
    for family, c in sorted(by_family.items()):
        print(f"  {family}: {sum(c.values())} cases, crash {c['crash']}, hang {c['hang']}, escape {c['escape']}")
    if counts["generator"]:
        print(f"  (generator errors, not counted: {counts['generator']})")
    print(f"{n} cases, crash {counts['crash']}, hang {counts['hang']}, escape {counts['escape']}")
    return 0 if counts["crash"] == counts["hang"] == counts["escape"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

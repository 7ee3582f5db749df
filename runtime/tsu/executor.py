"""Executors of tsu segments: Ising anneals (`tsu-ising`) and sampling ops in models (`tsu-sample`).

`IsingSegment` loads the quantised program, colouring and chains into a `PBitMachine`, runs
it under the run-time parameters (reads, sweeps, schedule, beta0, beta1, seed, time_limit,
tempering) and scores the samples on the ORIGINAL problem read from the artifact. Outputs:
`samples` (reads x n, +-1, int8), `energies` (reads,), `best_sample` (n,), `best_energy`
and, for Max-Cut, `cut`. Profile: machine clocks, sweeps, spin updates, flips, updates per
wall second, simulated seconds (clocks / clock_hz, replicas that fit on the machine's p-bits
run side by side), energy (flips x energy_per_flip_j) and the JIT warm-up of the compiled
sweep kernels (compile or on-disk cache load, not counted in the anneal's rate).

`SampleSegment` runs a model segment's `tsu.sample` ops with the p-bits' hardware RNGs: each
output element is a p-bit whose xorshift32 register is seeded from (seed, stream of the op,
element index); see `sampling.py`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tsuc.errors import ArtifactError, TsucError
from tsuc.runtime.executors import SegmentExecutor
from tsuc.runtime.tsu.anneal import AnnealParams, anneal
from tsuc.runtime.tsu.chains import chain_breaks, check_chains, majority_vote
from tsuc.runtime.tsu.machine import MachineProgram, PBitMachine
from tsuc.runtime.tsu.options import IsingParams, SampleParams
from tsuc.runtime.tsu.problem import IsingProblem


def _member(spec: dict[str, Any], artifact: Any, role: str, optional: bool = False) -> np.ndarray | None:
    name = spec.get("members", {}).get(role)
    if name is None:
        if optional:
            return None
        raise ArtifactError(f"{artifact.path}: tsu segment {spec['name']!r} has no {role} member")
    return np.asarray(artifact.array(name))


class IsingSegment(SegmentExecutor):
    """Anneals an Ising program on the p-bit machine simulator."""

    kind = "tsu-ising"
    params = IsingParams

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        cfg = spec.get("config", {})
        try:
            self.config = cfg
            self.defaults = dict(cfg["defaults"])
            self.machine_cfg = dict(cfg["machine"])
            n, pbits = int(cfg["spins"]), int(cfg["pbits"])
            scale = float(cfg["scale"])
        except (KeyError, TypeError, ValueError):
            raise ArtifactError(f"{artifact.path}: tsu segment {self.name!r} has a malformed config") from None
        pairs = _member(spec, artifact, "program_couplings").reshape(-1, 2)
        self.program = MachineProgram(pbits, pairs[:, 0], pairs[:, 1], _member(spec, artifact, "program_weights"),
                                      _member(spec, artifact, "program_fields"), _member(spec, artifact, "colours"), scale)
        opairs = _member(spec, artifact, "problem_couplings").reshape(-1, 2)
        self.problem = IsingProblem(n, opairs[:, 0], opairs[:, 1], _member(spec, artifact, "problem_weights"),
                                    _member(spec, artifact, "problem_fields"), float(cfg.get("offset", 0.0)),
                                    maxcut=bool(cfg.get("maxcut", False)), name=self.name)
        chains = _member(spec, artifact, "chains", optional=True)
        self.chains = None if chains is None else chains.astype(np.int64)
        if self.chains is not None:
            check_chains(self.chains, n)
        elif pbits != n:
            raise ArtifactError(f"{artifact.path}: tsu segment {self.name!r} has {pbits} p-bits for {n} spins but no chains")
        self._machines: dict[str, PBitMachine] = {}
        self._warmup_s = 0.0
        self._profile: dict[str, Any] = {}

    def machine(self, engine: str) -> PBitMachine:
        if engine not in self._machines:
            self._machines[engine] = PBitMachine(self.program, engine=engine)
            self._warmup_s = self._machines[engine].warmup_s
        return self._machines[engine]

    def anneal_params(self, params: dict[str, Any]) -> AnnealParams:
        d = self.defaults

        def pick(key: str, default_key: str | None = None):
            value = params.get(key)
            return d[default_key or key] if value is None else value

        p = AnnealParams(reads=pick("reads"), sweeps=pick("sweeps"), schedule=str(pick("schedule")),
                         beta0=pick("beta0"), beta1=pick("beta1"), seed=params.get("seed") or 0,
                         time_limit=params.get("time_limit"), tempering=pick("tempering"),
                         swap_interval=1 if params.get("swap_interval") is None else params["swap_interval"])
        p.validate(self.program.n)
        return p

    def logical(self, states: np.ndarray) -> np.ndarray:
        if self.chains is None:
            return states
        return majority_vote(states, self.chains, self.problem.n)

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        p = self.anneal_params(params)
        self._warmup_s = 0.0
        machine = self.machine(str(params.get("engine") or "auto"))
        start = time.perf_counter()
        out = anneal(machine, p, start)
        samples = self.logical(out.samples)
        # best found: every read's final/kept state and every replica's best, scored on the original problem
        candidates = np.concatenate([samples, self.logical(out.best_states)])
        cand_e = self.problem.energy(candidates)
        energies = cand_e[: len(samples)].copy()
        k = int(np.argmin(cand_e))
        best, best_e = candidates[k], float(cand_e[k])
        result = {"samples": samples.astype(np.int8), "energies": energies, "best_sample": best.astype(np.int8),
                  "best_energy": np.array(best_e)}
        if self.problem.maxcut:
            result["cut"] = np.array(float(self.problem.cut(best[None])[0]))
        self._record(p, out, samples)
        names = self.spec["outputs"]
        keys = ["samples", "energies", "best_sample", "best_energy", "cut"][: len(names)]
        return {name: result[key] for name, key in zip(names, keys)}

    def _record(self, p: AnnealParams, out, samples: np.ndarray) -> None:
        c = out.counters
        n_pbits = int(self.machine_cfg.get("n_pbits", self.program.n))
        copies = max(1, n_pbits // max(1, self.program.n))
        passes = math.ceil(out.replicas / copies)
        clocks = c.clocks * passes
        clock_hz = float(self.machine_cfg.get("clock_hz", 1e9))
        self._profile = {
            "reads": p.reads,
            "replicas": out.replicas,
            "runs": out.runs,
            "sweeps": c.sweeps,
            "colours": self.program.num_colours,
            "clocks": clocks,
            "spin_updates": c.spin_updates,
            "flips": c.flips,
            "updates_per_s": c.spin_updates / out.seconds if out.seconds > 0 else 0.0,
            "anneal_s": out.seconds,
            "sim_seconds": clocks / clock_hz,
            "energy_j": c.flips * float(self.machine_cfg.get("energy_per_flip_j", 0.0)),
            "anneal_sweeps": out.anneal_sweeps[0] if len(set(out.anneal_sweeps)) == 1 else list(out.anneal_sweeps),
            "schedule_compressed": bool(out.compressed),
            "jit_warmup_s": self._warmup_s,
        }
        if self.chains is not None:
            self._profile["chain_break_fraction"] = chain_breaks(out.samples, self.chains)

    def profile(self) -> dict[str, Any]:
        return dict(self._profile)

    def simulated_us(self) -> float | None:
        return self._profile["sim_seconds"] * 1e6 if self._profile else None

    def summary(self, outputs: dict[str, Any]) -> list[str]:
        """Lines `tsuc run` prints after a run."""
        names = self.spec["outputs"]
        lines = []
        if len(names) > 3 and names[3] in outputs:
            best = float(np.asarray(outputs[names[3]]))
            lines.append(f"best energy: {best:.10g}")
        if self.problem.maxcut and len(names) > 4 and names[4] in outputs:
            lines.append(f"cut: {float(np.asarray(outputs[names[4]])):.10g}")
        prof = self._profile
        if prof:
            lines.append(f"{prof['reads']} reads x {prof['sweeps'] // max(1, prof['runs'])} sweeps"
                         + (f" x {prof['runs']} anneals" if prof["runs"] > 1 else "")
                         + (" (schedule compressed to the time limit)" if prof["schedule_compressed"] else "")
                         + f", {prof['updates_per_s'] / 1e6:.1f} M spin updates/s"
                         + (f", JIT warm-up {prof['jit_warmup_s']:.2f} s" if prof["jit_warmup_s"] > 0.01 else ""))
        return lines

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        cfg = spec.get("config", {})
        d = cfg.get("defaults", {})
        q = cfg.get("quantization", {})
        m = cfg.get("machine", {})
        lines = [
            f"Ising problem: {cfg.get('spins')} spins{' (Max-Cut)' if cfg.get('maxcut') else ''} on {cfg.get('pbits')} p-bits, "
            f"topology {cfg.get('topology')}" + (f", chain strength {cfg['chain_strength']:.4g}, longest chain {cfg.get('max_chain')}"
                                                  if "chain_strength" in cfg else ""),
            f"quantisation: j_bits={cfg.get('j_bits')} h_bits={cfg.get('h_bits')} scale={cfg.get('scale'):.6g}; "
            + ("exact" if q.get("exact") else
               f"max coupling error {q.get('max_coupling_error', 0):.4g} ({100 * q.get('relative_coupling_error', 0):.3g}% of max |J|), "
               f"rms {q.get('rms_coupling_error', 0):.4g}, max bias error {q.get('max_field_error', 0):.4g}, "
               f"energy error <= {q.get('energy_error_bound', 0):.4g}, {q.get('dropped_couplings', 0)} couplings dropped"),
            f"colouring: {cfg.get('num_colours')} colours ({cfg.get('colouring')}), one clock per colour per sweep",
            f"default run: {d.get('reads')} reads x {d.get('sweeps')} sweeps, {d.get('schedule')} beta {d.get('beta0', 0):.4g} -> "
            f"{d.get('beta1', 0):.4g}" + (f", tempering {d['tempering']} levels" if d.get("tempering") else ""),
            f"machine: {m.get('n_pbits')} p-bits, {m.get('clock_hz', 0) / 1e6:.4g} MHz, {m.get('energy_per_flip_j', 0):.3g} J per flip",
        ]
        if cfg.get("labels"):
            shown = ", ".join(map(str, cfg["labels"][:8])) + (", ..." if len(cfg["labels"]) > 8 else "")
            lines.append(f"variables (columns of samples): {shown}")
        return lines


class SampleSegment(SegmentExecutor):
    """Runs the `tsu.sample` ops of a model segment with p-bit RNGs."""

    kind = "tsu-sample"
    params = SampleParams

    def __init__(self, spec: dict[str, Any], artifact: Any, devices: dict[Any, Any] | None = None) -> None:
        super().__init__(spec, artifact, devices)
        from tsuc.runtime.tsu.sampling import SamplingProgram

        try:
            self.program = SamplingProgram.from_config(spec["name"], spec.get("config", {}), spec["inputs"], spec["outputs"])
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{artifact.path}: tsu segment {self.name!r} has a malformed config ({e})") from None
        self._profile: dict[str, Any] = {}

    def run(self, feeds: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        outs, updates = self.program.run(feeds, int(params.get("seed") or 0))
        m = self.program.machine
        n_pbits = int(m.get("n_pbits", 16384))
        clocks = sum(math.ceil(u / n_pbits) for u in updates)
        self._profile = {
            "spin_updates": int(sum(updates)),
            "clocks": clocks,
            "sim_seconds": clocks / float(m.get("clock_hz", 1e9)),
            "energy_j": sum(updates) * float(m.get("energy_per_flip_j", 0.0)),
            "sample_ms": (time.perf_counter() - t0) * 1e3,
        }
        return outs

    def profile(self) -> dict[str, Any]:
        return dict(self._profile)

    def simulated_us(self) -> float | None:
        return self._profile["sim_seconds"] * 1e6 if self._profile else None

    @classmethod
    def describe(cls, spec: dict[str, Any]) -> list[str]:
        cfg = spec.get("config", {})
        names = {f"arg:{k}": name for k, name in enumerate(spec.get("inputs", []))}
        names.update({ref: name for ref, name in zip(cfg.get("yield", []), spec.get("outputs", []))})
        lines = []
        for k, op in enumerate(cfg.get("ops", [])):
            what = op["kind"]
            if op["kind"] == "noise":
                what += f" ({op['distribution']}, loc {op['loc']:.4g}, scale {op['scale']:.4g})"
            if op["kind"] == "attention":
                what += f" ({op['samples']} samples, beta {op['beta']:.4g})"
            src = names.get(op.get("input"), op.get("input")) if op.get("input") else "shape " + "x".join(map(str, op.get("shape", [])))
            lines.append(f"tsu.sample {what}: {src} -> {names.get(op['output'], op['output'])} ({op['dtype']}), p-bit RNG stream {k}")
        return lines


__all__ = ["IsingSegment", "SampleSegment", "TsucError"]

"""The `tsu` target's options and run parameters, declared once for compiler and runtime.

Part of the p-bit machine description the compiler and the runtime share (with `problem.py`:
the Ising problem format; `machine.py`: the machine program and its fixed-point fields; `lut.py`:
the tanh lookup table). The compiler writes the resolved options on every tsu segment
(`#tsuc.target<"tsu", {...}>`) and in the manifest; run parameters (`--param tsu.reads=20`)
override the artifact's defaults at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsuc.errors import TsucError
from tsuc.runtime.options import Options, option
from tsuc.runtime.tsu import limits

SCHEDULES = ("constant", "linear", "geometric")


@dataclass(frozen=True)
class TsuOptions(Options):
    """Machine size and precision, embedding, and the default anneal of one p-bit machine."""

    namespace = "tsu"

    n_pbits: int = option(16384, "p-bits on the machine (capacity; a king topology uses floor(sqrt)^2 of them)",
                          minimum=1, maximum=limits.MAX_PBITS)
    j_bits: int = option(8, "coupling precision, signed fixed-point bits", minimum=2, maximum=31)
    h_bits: int = option(8, "bias precision, signed fixed-point bits", minimum=2, maximum=31)
    topology: str = option("complete", "p-bit wiring; sparse ones minor-embed the problem (king needs minorminer)",
                           choices=("complete", "king"))
    chain_strength: float = option(0.0, "ferromagnetic chain coupling for embeddings (0: uniform torque compensation)",
                                   minimum=0.0, maximum=1e12)
    embed_seed: int = option(0, "random seed of the minor-embedding heuristic", minimum=0, maximum=(1 << 32) - 1)
    colouring: str = option("dsatur", "graph colouring for colour-parallel updates", choices=("dsatur", "greedy"))
    reads: int = option(16, "default reads (independent anneals) per run", minimum=1, maximum=1 << 16)
    sweeps: int = option(1000, "default sweeps per anneal", minimum=1, maximum=limits.MAX_SWEEPS)
    schedule: str = option("geometric", "default beta schedule", choices=SCHEDULES)
    beta0: float = option(0.0, "default initial (hot) beta; 0: from the problem", minimum=0.0, maximum=limits.MAX_BETA)
    beta1: float = option(0.0, "default final (cold) beta; 0: from the problem", minimum=0.0, maximum=limits.MAX_BETA)
    tempering: int = option(0, "default parallel-tempering levels per read (0: plain annealing)", minimum=0,
                            maximum=limits.MAX_TEMPERING)
    clock_hz: float = option(1e9, "p-bit clock (the prototype's 1 ns per update)", minimum=1.0, maximum=1e15)
    energy_per_flip_j: float = option(1e-14, "energy per p-bit flip in joules (the prototype's 10 fJ)", minimum=0.0,
                                      maximum=1.0)

    def validate(self) -> None:
        if self.tempering == 1:
            raise TsucError("option tsu.tempering=1 must be 0 (off) or at least 2 levels")

    def machine_config(self) -> dict[str, object]:
        return {"n_pbits": self.n_pbits, "topology": self.topology, "clock_hz": self.clock_hz,
                "energy_per_flip_j": self.energy_per_flip_j}


@dataclass(frozen=True)
class IsingParams(Options):
    """Run-time parameters of Ising anneals (`--param tsu.reads=20`); None: the artifact's default."""

    namespace = "tsu"
    noun = "parameter"

    reads: int | None = option(None, "independent anneals (default: the artifact's)", minimum=1, maximum=1 << 16)
    sweeps: int | None = option(None, "sweeps per anneal (default: the artifact's)", minimum=1, maximum=limits.MAX_SWEEPS)
    seed: int = option(0, "seed of the p-bits' RNGs (runs are bit-reproducible from it)", minimum=0, maximum=(1 << 63) - 1)
    schedule: str | None = option(None, "beta schedule: constant, linear or geometric", choices=SCHEDULES)
    beta0: float | None = option(None, "initial (hot) beta, problem units", minimum=0.0, maximum=limits.MAX_BETA)
    beta1: float | None = option(None, "final (cold) beta, problem units", minimum=0.0, maximum=limits.MAX_BETA)
    time_limit: float | None = option(None, "seconds; anneals fitted to the time (compressed if needed, repeated while "
                                            "one fits); none: no limit", minimum=1e-3, maximum=limits.MAX_TIME_LIMIT)
    tempering: int | None = option(None, "parallel-tempering levels per read (0: off)", minimum=0,
                                   maximum=limits.MAX_TEMPERING)
    swap_interval: int = option(1, "sweeps between tempering swap rounds", minimum=1, maximum=limits.MAX_SWEEPS)
    engine: str = option("auto", "simulator engine", choices=("auto", "sparse", "dense"))


@dataclass(frozen=True)
class SampleParams(Options):
    """Run-time parameters of sampling segments in models."""

    namespace = "tsu"
    noun = "parameter"

    seed: int = option(0, "seed of the p-bits' RNGs (runs are bit-reproducible from it)", minimum=0, maximum=(1 << 63) - 1)

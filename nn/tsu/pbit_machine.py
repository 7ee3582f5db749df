"""TSU backend "pbit-machine": the TSUBackend API on tsuc's fixed-point p-bit machine model.

Where "pbit-sim" is the ideal floating-point sampler, this backend runs what a compiled
artifact runs (`tsuc.runtime.tsu`): couplings quantised to `j_bits` / `h_bits` signed fixed
point with one shared scale, DSATUR colouring, clocked colour-parallel updates, the tanh
lookup table with 24-bit thresholds and one xorshift32 register per p-bit. So a torch user can
see what quantisation and the hardware RNG do to their samples.

- `sample_ising`: one `num_steps` run of the machine (one step = one sweep); `final_energy`
  is the energy of the samples on the *original* (unquantised) problem, and the result also
  carries the quantisation report and the machine counters. With `record_trajectory` the
  machine is run one sweep at a time, re-seeded from (seed, sweep) each sweep.
- `sample_binary_layer`: each element a p-bit that fires iff its 24-bit draw is below
  round(2^24 sigmoid(beta x)), as a compiled `tsu.sample "bernoulli"` does.
- `sample_custom`: the machine has no continuous sampler; Langevin runs on the host exactly
  as in "pbit-sim".

The machine is seeded by integers: an int `key` is the seed, a torch.Generator key gives one
31-bit seed drawn from it, and no key draws from the backend's own generator (re-seeded by
`reset()`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from tsuc.runtime.tsu.lut import ONE
from tsuc.runtime.tsu.machine import MachineProgram, PBitMachine
from tsuc.runtime.tsu.problem import IsingProblem
from tsuc.runtime.tsu.sampling import draws
from tsuc.targets.tsu.colouring import colour_graph
from tsuc.targets.tsu.quantize import quantize
from tsuc.nn.tsu.pbit_sim import PBitSimulatorBackend, _beta_schedule, ising_energy, ising_problem
from tsuc.nn.tsu.tensors import as_float_tensor, check_beta, check_int, make_generator

_BINARY_STREAM = 0xB1A4


class PBitMachineBackend:
    """The fixed-point p-bit machine behind the TSUBackend protocol."""

    name = "pbit-machine"

    def __init__(self, seed: int = 0, j_bits: int = 8, h_bits: int = 8, engine: str = "auto") -> None:
        self._seed = check_int(seed, "seed", 0)
        self.j_bits = check_int(j_bits, "j_bits", 2)
        self.h_bits = check_int(h_bits, "h_bits", 2)
        self.engine = engine
        self._generator = torch.Generator().manual_seed(self._seed)
        self._host = PBitSimulatorBackend(seed=seed)
        self.reset()

    def reset(self) -> None:
        self._generator.manual_seed(self._seed)
        self._host.reset()
        self._counters = {"ising_calls": 0, "sweeps": 0, "clocks": 0, "spin_updates": 0, "spin_flips": 0, "binary_samples": 0}

    def get_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "simulator",
            "description": "fixed-point p-bit machine: quantised J/h, clocked colour-parallel updates, tanh LUT, xorshift32 per p-bit",
            "energy": "H(s) = -1/2 s^T J s - h^T s, diagonal of J dropped",
            "seed": self._seed,
            "j_bits": self.j_bits,
            "h_bits": self.h_bits,
            "engine": self.engine,
            "capabilities": ["ising", "binary_layer", "custom_langevin (host)", "beta_schedule"],
            "counters": dict(self._counters),
        }

    def _seed_from(self, key: Any) -> int:
        if isinstance(key, int) and not isinstance(key, bool):
            make_generator(key)  # validates
            return int(key)
        gen = make_generator(key, self._generator)
        return int(torch.randint(0, 2**31 - 1, (1,), generator=gen))

    def program(self, J: np.ndarray, h: np.ndarray) -> tuple[MachineProgram, dict]:
        """The machine program of (J, h) and the quantisation report."""
        q = quantize(IsingProblem.from_dense(J, h), self.j_bits, self.h_bits)
        colours = colour_graph(J.shape[0], q.rows, q.cols)
        return MachineProgram(J.shape[0], q.rows, q.cols, q.Jq, q.hq, colours, q.scale), q.report

    def sample_ising(
        self,
        J: Any,
        h: Any,
        beta: Any,
        num_steps: int,
        batch_size: int = 1,
        init_state: Any = None,
        record_trajectory: bool = False,
        key: Any = None,
    ) -> dict[str, Any]:
        Jt, ht = ising_problem(J, h)
        n = Jt.shape[0]
        num_steps = check_int(num_steps, "num_steps", 0)
        batch = check_int(batch_size, "batch_size", 1)
        betas = _beta_schedule(beta, num_steps, torch.float64).numpy()
        seed = self._seed_from(key)
        init = None
        if init_state is not None:
            init = PBitSimulatorBackend._initial_state(init_state, batch, n, torch.float64, None).numpy().astype(np.int8)
            batch = init.shape[0]
        program, report = self.program(Jt.double().numpy(), ht.double().numpy())
        machine = PBitMachine(program, engine=self.engine)
        counters = {"sweeps": 0, "clocks": 0, "spin_updates": 0, "flips": 0}
        traj = []
        if num_steps == 0:
            states = init if init is not None else np.where(np.random.default_rng(seed).random((batch, n)) < 0.5, -1, 1).astype(np.int8)
        elif not record_trajectory:
            res = machine.run(batch, betas, seed=seed, init=init)
            states = res.states
            for k, v in res.counters.as_dict().items():
                counters[k] += v
        else:
            states = init
            for t in range(num_steps):
                res = machine.run(batch, betas[t:t + 1], seed=seed, init=states, replica_offset=t * batch)
                states = res.states
                traj.append(states)
                for k, v in res.counters.as_dict().items():
                    counters[k] += v
        dtype = Jt.dtype
        samples = torch.from_numpy(states.astype(np.float64)).to(dtype)
        self._counters["ising_calls"] += 1
        for k in ("sweeps", "clocks", "spin_updates"):
            self._counters[k] += counters[k]
        self._counters["spin_flips"] += counters["flips"]
        out: dict[str, Any] = {
            "samples": samples,
            "final_energy": ising_energy(samples, Jt, ht),
            "acceptance_rate": counters["flips"] / counters["spin_updates"] if counters["spin_updates"] else 0.0,
            "num_colors": program.num_colours,
            "quantization": report,
            "counters": counters,
        }
        if record_trajectory:
            tr = torch.from_numpy(np.stack(traj).astype(np.float64)).to(dtype) if traj else torch.empty((0, batch, n), dtype=dtype)
            out["trajectory"] = tr
            out["energy_trajectory"] = ising_energy(tr.reshape(-1, n), Jt, ht).reshape(tr.shape[:2])
        return out

    def sample_binary_layer(self, logits: Any, beta: float = 1.0, num_steps: int = 1, key: Any = None) -> torch.Tensor:
        x = as_float_tensor(logits, "logits")
        b = check_beta(beta)
        check_int(num_steps, "num_steps", 1)
        seed = self._seed_from(key)
        p = torch.sigmoid(b * x.detach().double()).cpu().numpy().reshape(-1)
        thresholds = np.rint(p * ONE).astype(np.int64)
        u = draws(seed, _BINARY_STREAM, p.size)[0]
        self._counters["binary_samples"] += p.size
        return torch.from_numpy((u < thresholds).reshape(tuple(x.shape))).to(x.dtype).to(x.device)

    def sample_custom(
        self,
        energy_fn: Callable[[torch.Tensor], torch.Tensor],
        init_state: Any,
        num_steps: int,
        beta: float = 1.0,
        key: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Langevin on the host (the machine samples spins only); see PBitSimulatorBackend."""
        return self._host.sample_custom(energy_fn, init_state, num_steps, beta=beta, key=key, **kwargs)

"""The p-bit machine at run time: executors, the simulator and its slow reference.

The description that the compiler (`tsuc.targets.tsu`) and this runtime share lives here,
once, and the compiler imports it (never the reverse):

- `options.py`: the target's options and run parameters (declared once);
- `problem.py`: the Ising problem format (couplings, fields, offset, Max-Cut scoring);
- `machine.py`: the machine program (fixed-point couplings, colouring) and the simulator;
- `lut.py`, `rng.py`, `schedule.py`: the tanh lookup table, the per-p-bit xorshift32 RNG and
  the beta schedules, which compile-time passes and the machine must agree on.

Run-time only: `executor.py`, `anneal.py`, `chains.py`, `sampling.py`, `reference.py`.
"""

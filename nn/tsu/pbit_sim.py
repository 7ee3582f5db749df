"""The default TSU backend: a p-bit simulator in torch ("pbit-sim").

It models an ideal (floating-point) p-bit machine: p-bits are graph-coloured, every p-bit of
one colour updates in the same clock with s_i <- sign(tanh(beta I_i) - r), r ~ U(-1, 1),
and a sweep is one clock per colour. All replicas of a batch update together, so the only
Python loop is over sweeps and colours (the hardware's clocks); within a clock the update is
one matrix product over the batch. The fixed-point, cycle-accurate machine model with
per-p-bit hardware RNGs lives in `tsuc.runtime.tsu`; this backend is the reference
semantics that the torch layers and objectives use.

Results are torch tensors in the input's floating dtype (numpy float64 -> torch.float64,
otherwise torch's default dtype). Randomness comes only from the `key` generator (or the
backend's own generator, seeded by `seed` and re-seeded by `reset()`), so the same key and
inputs give bit-identical samples.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from tsuc.errors import TsucError
from tsuc.targets.tsu.colouring import colour_graph
from tsuc.nn.tsu.tensors import as_float_tensor, check_beta, check_int, make_generator


def ising_energy(s: torch.Tensor, J: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """H(s) = -1/2 s^T J s - h^T s for each row of `s` (B, N); J must have a zero diagonal."""
    return -0.5 * ((s @ J) * s).sum(dim=-1) - s @ h


def ising_problem(J: Any, h: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated (J with its diagonal dropped, h) as tensors of one floating dtype."""
    Jt = as_float_tensor(J, "J")
    if Jt.dim() != 2 or Jt.shape[0] != Jt.shape[1] or Jt.shape[0] == 0:
        raise TsucError(f"J must be a non-empty square (N, N) matrix, not shape {tuple(Jt.shape)}")
    n = Jt.shape[0]
    ht = torch.zeros(n, dtype=Jt.dtype) if h is None else as_float_tensor(h, "h", dtype=Jt.dtype)
    if ht.shape != (n,):
        raise TsucError(f"h must have shape ({n},) to match J, not {tuple(ht.shape)}")
    asym = float((Jt - Jt.T).abs().max())
    if asym > 1e-6 * max(1.0, float(Jt.abs().max())):
        raise TsucError(f"J is not symmetric (max |J - J^T| = {asym:.3g}); pass (J + J.T) / 2")
    Jt = Jt.clone()
    Jt.fill_diagonal_(0)
    return Jt, ht


def _beta_schedule(beta: Any, num_steps: int, dtype: torch.dtype) -> torch.Tensor:
    """`beta` (a number or a sequence of `num_steps` numbers) as a (num_steps,) tensor."""
    if isinstance(beta, (int, float, np.number)) or (isinstance(beta, torch.Tensor) and beta.dim() == 0):
        return torch.full((num_steps,), check_beta(beta), dtype=dtype)
    b = as_float_tensor(beta, "beta", dtype=dtype).reshape(-1)
    if b.numel() != num_steps:
        raise TsucError(f"beta schedule has {b.numel()} values but num_steps={num_steps}")
    if bool((b < 0).any()):
        raise TsucError("beta schedule contains negative values")
    return b


class PBitSimulatorBackend:
    """Chromatic-Gibbs p-bit simulator implementing `tsuc.nn.tsu.TSUBackend`."""

    name = "pbit-sim"

    def __init__(self, seed: int = 0) -> None:
        self._seed = check_int(seed, "seed", 0)
        self._generator = torch.Generator().manual_seed(self._seed)
        self._counters: dict[str, int] = {}
        self.reset()

    # -- bookkeeping -------------------------------------------------------------------------

    def reset(self) -> None:
        """Re-seed the backend's own generator with `seed` and zero the counters."""
        self._generator.manual_seed(self._seed)
        self._counters = {"ising_calls": 0, "spin_updates": 0, "spin_flips": 0, "binary_samples": 0, "langevin_steps": 0}

    def get_info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "simulator",
            "description": "ideal p-bit machine in torch: chromatic Gibbs, s <- sign(tanh(beta I) - r), r ~ U(-1,1)",
            "energy": "H(s) = -1/2 s^T J s - h^T s, diagonal of J dropped",
            "seed": self._seed,
            "capabilities": ["ising", "binary_layer", "custom_langevin", "mala", "beta_schedule"],
            "counters": dict(self._counters),
        }

    # -- Ising sampling ----------------------------------------------------------------------

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
        """See `TSUBackend.sample_ising`; one step is one sweep (one clock per colour)."""
        Jt, ht = ising_problem(J, h)
        n = Jt.shape[0]
        num_steps = check_int(num_steps, "num_steps", 0)
        batch = check_int(batch_size, "batch_size", 1)
        betas = _beta_schedule(beta, num_steps, Jt.dtype)
        gen = make_generator(key, self._generator)
        s = self._initial_state(init_state, batch, n, Jt.dtype, gen)
        batch = s.shape[0]

        rows, cols = np.nonzero(np.triu((Jt != 0).numpy(), 1))
        colours = colour_graph(n, rows, cols)  # the compiler's DSATUR colouring
        classes = [torch.from_numpy(np.flatnonzero(colours == c)) for c in range(int(colours.max()) + 1)]
        blocks = [(idx, Jt[:, idx].contiguous(), ht[idx]) for idx in classes]
        traj = torch.empty((num_steps, batch, n), dtype=Jt.dtype) if record_trajectory else None
        etraj = torch.empty((num_steps, batch), dtype=Jt.dtype) if record_trajectory else None
        flips = 0
        one = torch.ones((), dtype=Jt.dtype)
        for t in range(num_steps):
            b = betas[t]
            for idx, Jc, hc in blocks:
                field = s @ Jc + hc
                r = torch.rand(field.shape, generator=gen, dtype=Jt.dtype).mul_(2).sub_(1)
                new = torch.where(torch.tanh(b * field) > r, one, -one)
                flips += int((new != s[:, idx]).sum())
                s[:, idx] = new
            if traj is not None:
                traj[t] = s
                etraj[t] = ising_energy(s, Jt, ht)

        updates = batch * n * num_steps
        self._counters["ising_calls"] += 1
        self._counters["spin_updates"] += updates
        self._counters["spin_flips"] += flips
        out: dict[str, Any] = {
            "samples": s,
            "final_energy": ising_energy(s, Jt, ht),
            "acceptance_rate": flips / updates if updates else 0.0,
            "num_colors": len(blocks),
        }
        if traj is not None:
            out["trajectory"] = traj
            out["energy_trajectory"] = etraj
        return out

    @staticmethod
    def _initial_state(init_state: Any, batch: int, n: int, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
        if init_state is None:
            r = torch.rand((batch, n), generator=gen, dtype=dtype)
            return torch.where(r < 0.5, -1.0, 1.0).to(dtype)
        s = as_float_tensor(init_state, "init_state", dtype=dtype)
        if s.dim() == 1:
            s = s.unsqueeze(0).expand(batch, n)
        if s.dim() != 2 or s.shape[1] != n:
            raise TsucError(f"init_state must have shape (N,) or (B, N) with N={n}, not {tuple(s.shape)}")
        if not bool(((s == 1) | (s == -1)).all()):
            raise TsucError("init_state must hold only -1 and +1 spins")
        return s.clone()

    # -- independent p-bits ------------------------------------------------------------------

    def sample_binary_layer(self, logits: Any, beta: float = 1.0, num_steps: int = 1, key: Any = None) -> torch.Tensor:
        """{0, 1} samples with P(1) = sigmoid(beta * logits), no gradient.

        Each unit is an uncoupled p-bit with input beta * logits / 2, read after
        `num_steps` clocks; uncoupled p-bits redraw independently every clock, so only the
        last clock's draw matters and it is the only one simulated.
        """
        x = as_float_tensor(logits, "logits")
        b = check_beta(beta)
        check_int(num_steps, "num_steps", 1)
        gen = make_generator(key, self._generator)
        r = torch.rand(x.shape, generator=gen, dtype=x.dtype).mul_(2).sub_(1).to(x.device)
        self._counters["binary_samples"] += x.numel()
        return (torch.tanh(0.5 * b * x) > r).to(x.dtype)

    # -- continuous sampling -----------------------------------------------------------------

    def sample_custom(
        self,
        energy_fn: Callable[[torch.Tensor], torch.Tensor],
        init_state: Any,
        num_steps: int,
        beta: float = 1.0,
        key: Any = None,
        step_size: float = 1e-2,
        metropolis: bool = False,
        record_trajectory: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Langevin sampling of p(x) ~ exp(-beta E(x)) in torch.

        x <- x - (step_size / 2) beta grad E(x) + sqrt(step_size) xi, xi ~ N(0, I); with
        `metropolis=True` each proposal is accepted by the Metropolis-Hastings rule (MALA),
        which removes the O(step_size) bias of the unadjusted chain. `energy_fn` maps a
        (B, ...) batch to (B,) energies; gradients are taken with respect to x only, so the
        model's parameter gradients are untouched. Returns {"samples", "final_energy",
        "acceptance_rate", and "trajectory" (num_steps, B, ...) when asked}.
        """
        if kwargs:
            raise TsucError(f"sample_custom got unknown options {sorted(kwargs)}; it takes step_size, metropolis, record_trajectory")
        if not callable(energy_fn):
            raise TsucError("energy_fn must be callable (a batch (B, ...) -> energies (B,))")
        x = as_float_tensor(init_state, "init_state").clone()
        if x.dim() == 0:
            raise TsucError("init_state must have a batch dimension (B, ...)")
        num_steps = check_int(num_steps, "num_steps", 0)
        b = check_beta(beta)
        eps = float(step_size)
        if not (eps > 0 and math.isfinite(eps)):
            raise TsucError(f"step_size={step_size!r} must be a positive number")
        gen = make_generator(key, self._generator)

        e, g = _energy_and_grad(energy_fn, x)
        traj = torch.empty((num_steps, *x.shape), dtype=x.dtype) if record_trajectory else None
        accepted = 0
        batch = x.shape[0]
        dims = tuple(range(1, x.dim()))
        for t in range(num_steps):
            noise = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
            prop = x - 0.5 * eps * b * g + math.sqrt(eps) * noise
            if metropolis:
                e_p, g_p = _energy_and_grad(energy_fn, prop)
                fwd = (noise**2).sum(dim=dims) / 2
                bwd = ((x - prop + 0.5 * eps * b * g_p) ** 2).sum(dim=dims) / (2 * eps)
                log_alpha = -b * (e_p - e) - bwd + fwd
                u = torch.rand((batch,), generator=gen, dtype=x.dtype).to(x.device)
                acc = torch.log(u) < log_alpha
                shape = (batch,) + (1,) * (x.dim() - 1)
                x = torch.where(acc.view(shape), prop, x)
                g = torch.where(acc.view(shape), g_p, g)
                e = torch.where(acc, e_p, e)
                accepted += int(acc.sum())
            else:
                x = prop
                e, g = _energy_and_grad(energy_fn, x)
                accepted += batch
            if traj is not None:
                traj[t] = x
        self._counters["langevin_steps"] += num_steps * batch
        out: dict[str, Any] = {
            "samples": x,
            "final_energy": e,
            "acceptance_rate": accepted / (num_steps * batch) if num_steps else 0.0,
        }
        if traj is not None:
            out["trajectory"] = traj
        return out


def _energy_and_grad(energy_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample energies (B,) and their gradient with respect to `x`, both detached."""
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        e = energy_fn(xr)
        if not isinstance(e, torch.Tensor):
            raise TsucError(f"energy_fn must return a tensor of energies, not {type(e).__name__}")
        if e.dim() == 0 and x.shape[0] == 1:
            e = e.reshape(1)
        if e.shape != (x.shape[0],):
            raise TsucError(f"energy_fn must return one energy per sample, shape ({x.shape[0]},), not {tuple(e.shape)}")
        (grad,) = torch.autograd.grad(e.sum(), xr)
    return e.detach(), grad.detach()

"""The `TSUBackend` protocol: what a thermodynamic sampling unit offers a PyTorch model.

The method names and return keys are those of the MLTSU prototype, so code written against
it keeps working; the semantics are tsuc's (see docs/tsu_torch.md and design/tsu.md):

- Spins are in {-1, +1}; H(s) = -1/2 s^T J s - h^T s with J symmetric. J's diagonal is
  *dropped* (s_i^2 = 1, so it only shifts every energy by the same constant -1/2 tr J; the
  prototype fed it into the local field, which biases the sampler).
- A p-bit update is s_i <- sign(tanh(beta * I_i) - r), r ~ U(-1, 1), with local field
  I_i = sum_{j != i} J_ij s_j + h_i, so P(s_i = +1) = sigmoid(2 beta I_i).

Inputs may be numpy arrays or torch tensors; results are torch tensors. `key` is an int
seed or a `torch.Generator`; the same key and inputs give identical samples.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class TSUBackend(Protocol):
    """A sampler backend (simulator today, hardware tomorrow)."""

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
        """Run `num_steps` sweeps of p-bit (Gibbs) updates on `batch_size` replicas.

        Returns {"samples": (B, N) +-1, "final_energy": (B,), "acceptance_rate": float
        (fraction of spin updates that changed a spin), and with `record_trajectory`
        "trajectory": (num_steps, B, N) and "energy_trajectory": (num_steps, B)}.
        `beta` is a float or a sequence of `num_steps` values (an anneal schedule).
        """
        ...

    def sample_binary_layer(self, logits: Any, beta: float = 1.0, num_steps: int = 1, key: Any = None) -> Any:
        """Independent p-bits: a {0, 1} tensor shaped like `logits`, P(1) = sigmoid(beta * logits)."""
        ...

    def sample_custom(
        self,
        energy_fn: Callable[[Any], Any],
        init_state: Any,
        num_steps: int,
        beta: float = 1.0,
        key: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Langevin sampling of p(x) ~ exp(-beta * energy_fn(x)) from `init_state` (B, ...)."""
        ...

    def get_info(self) -> dict[str, Any]:
        """Name, capabilities and usage counters of this backend."""
        ...

    def reset(self) -> None:
        """Re-seed the backend's own generator and zero its counters."""
        ...

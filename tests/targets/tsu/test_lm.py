"""examples/tiny_thermo_lm.py: the thermodynamic language model learns (quick mode)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tiny_thermo_lm.py"


@pytest.fixture(scope="module")
def lm():
    spec = importlib.util.spec_from_file_location("tiny_thermo_lm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    old = torch.get_num_threads()
    yield module
    torch.set_num_threads(old)


def test_quick_training_loss_falls_and_compiled_model_agrees(lm):
    result = lm.main(["--quick", "--compile"])
    print(f"quick: first avg {result['first_avg']:.3f} -> last avg {result['last_avg']:.3f}, "
          f"val {result['val_loss_sampled']:.3f}, {result['seconds']:.1f} s")
    assert all(math.isfinite(v) for v in result["losses"])
    assert result["first_loss"] > 0.9 * result["uniform_loss"]  # starts near chance
    assert result["last_avg"] < result["first_avg"] - 0.5
    assert result["val_loss_sampled"] < result["uniform_loss"] - 1.0
    # The trained model compiled for tsu: attention sampling on the p-bit runtime.
    compiled = result["compiled"]
    print(f"compiled for tsu: segments {compiled['segments']}, held-out loss {compiled['loss']:.3f}")
    assert compiled["segments"].count("tsu-sample") == 2  # one per attention layer
    assert abs(compiled["loss"] - result["val_loss_sampled"]) < 0.05


def test_training_is_deterministic_and_model_has_seed_shape(lm):
    cfg = lm.Config(**{**lm.QUICK, "steps": 6})
    a, b = lm.train(cfg, verbose=False), lm.train(cfg, verbose=False)
    assert a["losses"] == b["losses"]
    model = a["model"]
    assert len(model.blocks) == 2 and model.tok.embedding_dim == 128
    assert all(isinstance(blk.attn, lm.ThermodynamicAttention) for blk in model.blocks)
    seed_factory = lm.create_tiny_thermo_lm(vocab_size=50)
    assert seed_factory(torch.zeros(2, 7, dtype=torch.long)).shape == (2, 7, 50)

"""TinyThermoLM: a character-level language model with thermodynamic attention.

The MLTSU seed's demo model (2 layers, d_model 128, 4 heads), built from `tsuc.nn`
layers: every attention layer turns its scores into weights by averaging p-bit samples
(`ThermodynamicAttention`) instead of a softmax, and `TSUGaussianNoise` regularises the
embeddings during training. It trains on CPU on text that ships with Python: the pydoc
documentation of a few standard-library modules.

    python examples/tiny_thermo_lm.py               # 300 steps, about a minute on one core
    python examples/tiny_thermo_lm.py --steps 1000
    python examples/tiny_thermo_lm.py --quick       # 60 small steps, a few seconds
    python examples/tiny_thermo_lm.py --compile     # then compile it for tsu and evaluate the artifact

It prints the training loss (and its moving average) falling, the held-out loss with sampled
and with expected attention weights, and a short generated sample.
"""

from __future__ import annotations

import argparse
import importlib
import math
import pydoc
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from tsuc.nn import ThermodynamicAttention, TSUGaussianNoise

DEFAULT_MODULES = ("statistics", "textwrap", "fractions")


def load_text(modules: tuple[str, ...] = DEFAULT_MODULES) -> str:
    """The plain-text pydoc pages of `modules` (their docstrings), FILE lines removed."""
    pages = []
    for name in modules:
        page = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
        lines = page.splitlines()
        # Drop the FILE section (an absolute path) so the text does not depend on the install.
        keep, skip = [], False
        for line in lines:
            if line.strip() == "FILE":
                skip = True
                continue
            if skip and line.startswith("    "):
                continue
            skip = False
            keep.append(line)
        pages.append("\n".join(keep))
    return "\n\n".join(pages)


class CharVocab:
    """Characters of the training text <-> token ids."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor) -> str:
        return "".join(self.chars[i] for i in ids.tolist())


class ThermoBlock(nn.Module):
    """Pre-norm transformer block: x + attn(LN x); x + MLP(LN x)."""

    def __init__(self, d_model: int, n_heads: int, n_samples: int | None, beta: float, tsu_backend, generator) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = ThermodynamicAttention(d_model, n_heads, n_samples=n_samples, beta=beta, causal=True, backend=tsu_backend, generator=generator)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyThermoLM(nn.Module):
    """Token + position embeddings, `n_layers` thermodynamic blocks, a tied output head."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        n_heads: int = 4,
        n_layers: int = 2,
        max_len: int = 256,
        n_samples: int | None = 8,
        beta: float = 1.0,
        noise_sigma: float = 0.05,
        tsu_backend=None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.noise = TSUGaussianNoise(sigma=noise_sigma, n_pbits=16, generator=seed + 1000)
        self.blocks = nn.ModuleList(
            ThermoBlock(d_model, n_heads, n_samples, beta, tsu_backend, generator=seed + 1 + i) for i in range(n_layers)
        )
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok.weight
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)

    def set_attention_samples(self, n_samples: int | None) -> None:
        """Switch every attention layer between sampled (int) and expected (None) weights."""
        for block in self.blocks:
            block.attn.n_samples = n_samples

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(L, device=ids.device))
        x = self.noise(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, n_new: int, temperature: float = 0.8, generator: torch.Generator | None = None) -> torch.Tensor:
        ids = prompt.clone()
        for _ in range(n_new):
            logits = self(ids[None, -self.max_len :])[0, -1] / temperature
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            ids = torch.cat([ids, nxt])
        return ids


def create_tiny_thermo_lm(vocab_size: int = 1000, d_model: int = 128, n_heads: int = 4, n_layers: int = 2, tsu_backend=None, **kw) -> TinyThermoLM:
    """The seed's factory name and defaults."""
    return TinyThermoLM(vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers, tsu_backend=tsu_backend, **kw)


@dataclass
class Config:
    steps: int = 300
    batch: int = 32
    seq_len: int = 64
    lr: float = 3e-3
    n_samples: int = 8
    beta: float = 1.0
    seed: int = 0
    log_every: int = 25
    window: int = 20


QUICK = dict(steps=60, batch=16, seq_len=32, log_every=10, window=10)


def moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def split_blocks(data: torch.Tensor, block: int = 512, every: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Every `every`-th block of `block` characters is held out, so both sets span all modules."""
    blocks = list(torch.split(data, block))
    val = [b for i, b in enumerate(blocks) if i % every == every - 1]
    train = [b for i, b in enumerate(blocks) if i % every != every - 1]
    return torch.cat(train), torch.cat(val)


def batches(data: torch.Tensor, cfg: Config, generator: torch.Generator):
    while True:
        starts = torch.randint(0, len(data) - cfg.seq_len - 1, (cfg.batch,), generator=generator)
        idx = starts[:, None] + torch.arange(cfg.seq_len + 1)
        chunk = data[idx]
        yield chunk[:, :-1], chunk[:, 1:]


@torch.no_grad()
def evaluate(model: TinyThermoLM, data: torch.Tensor, cfg: Config, n_batches: int = 8) -> float:
    g = torch.Generator().manual_seed(cfg.seed + 99)
    it = batches(data, cfg, g)
    losses = []
    for _ in range(n_batches):
        x, y = next(it)
        losses.append(float(F.cross_entropy(model(x).flatten(0, 1), y.flatten())))
    return sum(losses) / len(losses)


def evaluate_compiled(model: TinyThermoLM, data: torch.Tensor, cfg: Config, n_batches: int = 8) -> dict:
    """Compile `model` for the tsu target and measure its held-out loss on the p-bit runtime.

    The attention p-bit draws become `tsu-sample` segments (the machine's per-p-bit xorshift
    RNGs); embeddings, projections, MLPs and the head run on the host (onnxruntime).
    """
    import tsuc

    g = torch.Generator().manual_seed(cfg.seed + 99)
    it = batches(data, cfg, g)
    x0, _ = next(it)
    t0 = time.perf_counter()
    exe = tsuc.compile(model.eval(), target="tsu", example_inputs=(x0,))
    compile_s = time.perf_counter() - t0
    it = batches(data, cfg, torch.Generator().manual_seed(cfg.seed + 99))
    losses = []
    for k in range(n_batches):
        x, y = next(it)
        logits = exe.run({exe.inputs[0].name: x.numpy()}, seed=k)[exe.outputs[0].name]
        losses.append(float(F.cross_entropy(torch.as_tensor(logits).flatten(0, 1), y.flatten())))
    kinds = [ex.spec["kind"] for ex in exe.executors]
    return {"loss": sum(losses) / len(losses), "segments": kinds, "compile_s": compile_s, "profile": exe.profile()["total"]}


def train(cfg: Config, verbose: bool = True, compile_tsu: bool = False) -> dict:
    """Train TinyThermoLM; returns losses and summary figures."""
    torch.manual_seed(cfg.seed)
    text = load_text()
    vocab = CharVocab(text)
    data = vocab.encode(text)
    train_data, val_data = split_blocks(data)
    model = TinyThermoLM(len(vocab), n_samples=cfg.n_samples, beta=cfg.beta, max_len=max(cfg.seq_len, 64), seed=cfg.seed)
    n_params = sum(p.numel() for p in model.parameters())
    if verbose:
        print(f"text: {len(text)} characters of pydoc ({', '.join(DEFAULT_MODULES)}), vocabulary {len(vocab)}; "
              f"model: {n_params / 1e3:.0f}k parameters, 2 layers x 4 heads, d_model 128, "
              f"{cfg.n_samples} p-bit samples per attention weight, beta {cfg.beta}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)) + 0.05)
    it = batches(train_data, cfg, torch.Generator().manual_seed(cfg.seed))
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    for step in range(cfg.steps):
        x, y = next(it)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if verbose and (step % cfg.log_every == 0 or step == cfg.steps - 1):
            avg = moving_average(losses, cfg.window)[-1]
            print(f"step {step:5d}  loss {losses[-1]:.3f}  avg{cfg.window} {avg:.3f}  ({time.perf_counter() - t0:.1f} s)")
    elapsed = time.perf_counter() - t0
    avg = moving_average(losses, cfg.window)
    model.eval()
    val_sampled = evaluate(model, val_data, cfg)
    model.set_attention_samples(None)
    val_expected = evaluate(model, val_data, cfg)
    model.set_attention_samples(cfg.n_samples)
    result = {
        "losses": losses,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "first_avg": avg[min(cfg.window, len(avg)) - 1],
        "last_avg": avg[-1],
        "uniform_loss": math.log(len(vocab)),
        "val_loss_sampled": val_sampled,
        "val_loss_expected": val_expected,
        "seconds": elapsed,
        "model": model,
        "vocab": vocab,
    }
    if compile_tsu:
        result["compiled"] = evaluate_compiled(model, val_data, cfg)
    if verbose:
        print(f"loss: first {result['first_loss']:.3f} -> last {result['last_loss']:.3f}; "
              f"moving average (window {cfg.window}) first {result['first_avg']:.3f} -> last {result['last_avg']:.3f} "
              f"(uniform guess ln V = {result['uniform_loss']:.3f}); {cfg.steps} steps in {elapsed:.1f} s")
        print(f"held-out loss: {val_sampled:.3f} with p-bit sampled attention, {val_expected:.3f} with expected weights")
        if compile_tsu:
            c = result["compiled"]
            print(f"compiled for tsu in {c['compile_s']:.1f} s, segments {c['segments']}: held-out loss {c['loss']:.3f} "
                  f"on the p-bit runtime ({c['profile'].get('spin_updates', 0)} p-bit updates in the last batch)")
        prompt = vocab.encode("The ")
        out = model.generate(prompt, 160, generator=torch.Generator().manual_seed(cfg.seed))
        print("sample:", repr(vocab.decode(out)))
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=None, help="training steps (default 300, --quick 60)")
    ap.add_argument("--quick", action="store_true", help="a small, fast run (batch 16, length 32)")
    ap.add_argument("--samples", type=int, default=8, help="p-bit samples per attention weight")
    ap.add_argument("--beta", type=float, default=1.0, help="inverse temperature of the attention p-bits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compile", action="store_true", help="also compile the trained model for --target=tsu and evaluate it there")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on a shared 2-core machine two threads spin against other work and run several times slower)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(**(QUICK if args.quick else {}), n_samples=args.samples, beta=args.beta, seed=args.seed)
    if args.steps is not None:
        cfg.steps = args.steps
    return train(cfg, compile_tsu=args.compile)


if __name__ == "__main__":
    main()

"""How a replica of n GPUs splits one clip, as xDiT runs a DiT (Fang et al. 2024, "xDiT: an Inference Engine
for Diffusion Transformers with Massive Parallelism", arXiv:2411.01738; Fang & Zhao 2024, "USP: A Unified
Sequence Parallelism Approach", arXiv:2405.07719):

- CFG parallel: the guidance branches (conditional, unconditional[, a third]) run on separate GPU groups,
  which exchange their noise predictions once a step (an all-gather of the latent).
- Ulysses (Jacobs et al. 2023): each GPU holds 1/u of the tokens; four all-to-alls a layer (q, k, v in,
  the output back) give each GPU all tokens of heads/u heads. Needs heads divisible by u.
- Ring (Liu et al. 2023): each GPU holds 1/r of the tokens and passes key/value blocks around the ring,
  r-1 exchanges a layer, each hidden behind the attention of the block it feeds.
- USP: Ulysses inside ring groups. cfg x ulysses x ring = n.

Text tokens are replicated on every GPU of a sequence group (xDiT keeps the caption whole); PipeFusion and
tensor parallelism are not modelled (xDiT's video pipelines run USP and CFG parallel).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.specs.serving import Guidance, guidance_branches


@dataclass(frozen=True)
class Split:
    """One way to run a clip on ``gpus`` GPUs."""

    cfg: int = 1
    ulysses: int = 1
    ring: int = 1

    @property
    def gpus(self) -> int:
        return self.cfg * self.ulysses * self.ring

    @property
    def sequence(self) -> int:
        """GPUs a forward's tokens are spread over."""
        return self.ulysses * self.ring

    @property
    def label(self) -> str:
        parts = [f"{name}{degree}" for name, degree in (("cfg", self.cfg), ("ulysses", self.ulysses), ("ring", self.ring)) if degree > 1]
        return " x ".join(parts) or "one GPU"


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def why_invalid(split: Split, guidance: Guidance, heads: int, visual_tokens: int) -> str:
    """Why xDiT cannot run a split for this model and guidance ('' when it can)."""
    branches = guidance_branches(guidance)
    if split.cfg > 1 and branches % split.cfg:
        return f"CFG parallel {split.cfg} needs {split.cfg} guidance branches a step; this guidance has {branches}"
    if heads % split.ulysses:
        return f"Ulysses {split.ulysses} needs the {heads} heads to divide by it"
    if visual_tokens < split.sequence:
        return f"{visual_tokens} tokens cannot spread over {split.sequence} GPUs"
    return ""


def splits(gpus: int, guidance: Guidance, heads: int, visual_tokens: int) -> tuple[list[Split], list[tuple[Split, str]]]:
    """(valid splits of ``gpus`` GPUs, invalid ones with the reason)."""
    valid, invalid = [], []
    for cfg in _divisors(gpus):
        for ulysses in _divisors(gpus // cfg):
            split = Split(cfg=cfg, ulysses=ulysses, ring=gpus // cfg // ulysses)
            reason = why_invalid(split, guidance, heads, visual_tokens)
            if reason:
                invalid.append((split, reason))
            else:
                valid.append(split)
    return valid, invalid

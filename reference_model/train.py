"""Training the reference system on this CPU: the VAE for reconstruction, then the DiT with rectified flow.

Rectified flow (Mochi): z_s = (1 - s) z0 + s eps, the DiT predicts v = z0 - eps, MSE loss. Captions are
dropped with probability caption_dropout (empty caption) for classifier-free guidance. Every random draw
of a DiT step comes from (seed, step), so a run resumed from a checkpoint repeats the uninterrupted
run's losses bit for bit.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch.nn import functional as F

from reference_model.data import clip_for_seed
from reference_model.system import ReferenceConfig, ReferenceSystem

KL_WEIGHT = 1e-4  # small KL keeps the latents near a unit Gaussian without blurring reconstructions
ENCODE_BATCH = 32
Progress = Optional[Callable[[str, int, int, float], None]]  # (phase, step, total, loss)


def pixels_and_captions(seeds, config: ReferenceConfig) -> tuple[torch.Tensor, list[str]]:
    """Clips of the given seeds as (B, 3, T, H, W) in [-1, 1], and their captions."""
    clip = config.clip
    specs, frames = zip(*(clip_for_seed(int(s), clip.frames, clip.height, clip.width) for s in seeds))
    pixels = torch.from_numpy(np.stack(frames)).permute(0, 4, 1, 2, 3) * 2 - 1
    return pixels, [s.caption for s in specs]


def step_generator(seed: int, step: int) -> torch.Generator:
    """The torch generator of one training step (independent of what ran before)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train_vae(system: ReferenceSystem, progress: Progress = None) -> list[float]:
    """Reconstruction training on freshly generated clips; returns the losses."""
    cfg = system.config.training
    vae = system.vae.train()
    optimiser = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr)
    losses = []
    for step in range(cfg.vae_steps):
        seeds = np.random.default_rng([cfg.seed, step, 1]).integers(0, 2**31, cfg.vae_batch)
        pixels, _ = pixels_and_captions(seeds, system.config)
        mean, logvar = vae.encoder(pixels)
        z = mean + torch.randn(mean.shape, generator=step_generator(cfg.seed, step)) * torch.exp(0.5 * logvar)
        recon = vae.decoder(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = F.mse_loss(recon, pixels) + F.l1_loss(recon, pixels) + KL_WEIGHT * kl
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if progress:
            progress("vae", step + 1, cfg.vae_steps, losses[-1])
    vae.eval().requires_grad_(False)
    return losses


@torch.no_grad()
def encode_clips(system: ReferenceSystem, seeds, progress: Progress = None) -> dict:
    """Latents (normalised), text features and masks of clips, in batches (progress: loss reported as NaN)."""
    latents, feats, masks = [], [], []
    for start in range(0, len(seeds), ENCODE_BATCH):
        pixels, captions = pixels_and_captions(seeds[start:start + ENCODE_BATCH], system.config)
        latents.append(system.vae.encode(pixels))
        f, m = system.encode_text(captions)
        feats.append(f)
        masks.append(m)
        if progress:
            progress("encoding the clip cache", min(start + ENCODE_BATCH, len(seeds)), len(seeds), float("nan"))
    return {"latents": torch.cat(latents), "text": torch.cat(feats), "mask": torch.cat(masks)}


@torch.no_grad()
def set_latent_statistics(system: ReferenceSystem, seeds) -> None:
    """Per-channel mean and std of the raw latents (Mochi normalises its latents per channel)."""
    system.vae.latent_mean.zero_()
    system.vae.latent_std.fill_(1.0)
    raw = encode_clips(system, seeds)["latents"]
    system.vae.latent_mean.copy_(raw.mean(dim=(0, 2, 3, 4)))
    system.vae.latent_std.copy_(raw.std(dim=(0, 2, 3, 4)).clamp(min=1e-3))


@dataclass
class DiTState:
    """What a checkpoint holds."""

    step: int = 0
    losses: list[float] = field(default_factory=list)


def dit_batch(system: ReferenceSystem, cache: Optional[dict], seeds: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latents, text features, masks) of one step: from the cache, or encoded now (online)."""
    cfg = system.config.training
    index = np.random.default_rng([cfg.seed, step, 2]).integers(0, len(seeds), cfg.dit_batch)
    if cache is not None:
        return cache["latents"][index], cache["text"][index], cache["mask"][index]
    batch = encode_clips(system, seeds[index])
    return batch["latents"], batch["text"], batch["mask"]


def rectified_flow_loss(system: ReferenceSystem, z0, text, mask, generator: torch.Generator) -> torch.Tensor:
    """MSE between the predicted and true velocity z0 - eps at a uniform s, captions dropped at random."""
    b = z0.shape[0]
    s = torch.rand(b, generator=generator)
    eps = torch.randn(z0.shape, generator=generator)
    keep = torch.rand(b, generator=generator) >= system.config.training.caption_dropout
    mask = mask & keep[:, None]
    text = text * mask[..., None]
    zs = (1 - s)[:, None, None, None, None] * z0 + s[:, None, None, None, None] * eps
    return F.mse_loss(system.dit(zs, s, text, mask), z0 - eps)


def train_dit(system: ReferenceSystem, cache: Optional[dict], seeds: np.ndarray, state: DiTState, optimiser,
              checkpoint: Callable[[DiTState], None], progress: Progress = None, stop_after: Optional[int] = None) -> DiTState:
    """Continue DiT training from ``state`` to dit_steps (or stop after ``stop_after`` steps, as an interruption)."""
    cfg = system.config.training
    system.dit.train()
    while state.step < cfg.dit_steps:
        if stop_after is not None and state.step >= stop_after:
            break
        z0, text, mask = dit_batch(system, cache, seeds, state.step)
        loss = rectified_flow_loss(system, z0, text, mask, step_generator(cfg.seed, state.step))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        state.losses.append(loss.item())
        state.step += 1
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.dit_steps:
            checkpoint(state)
        if progress:
            progress("dit", state.step, cfg.dit_steps, state.losses[-1])
    system.dit.eval()
    return state


def save_atomically(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def run_training(system: ReferenceSystem, out: Path, progress: Progress = None, stop_after: Optional[int] = None) -> dict:
    """VAE (or its saved weights), latent statistics, cache, then the DiT, resuming from ``out`` if possible."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = system.config.training
    seeds = np.arange(cfg.dataset_clips)
    vae_path, dit_path = out / "vae.pt", out / "dit.pt"
    if vae_path.exists():
        system.vae.load_state_dict(torch.load(vae_path))
        system.vae.eval().requires_grad_(False)
        vae_losses = json.loads((out / "vae_losses.json").read_text())
    else:
        vae_losses = train_vae(system, progress)
        set_latent_statistics(system, seeds[: min(len(seeds), 256)])
        save_atomically(system.vae.state_dict(), vae_path)
        (out / "vae_losses.json").write_text(json.dumps(vae_losses))
    cache = encode_clips(system, seeds, progress) if cfg.precompute else None
    optimiser = torch.optim.AdamW(system.dit.parameters(), lr=cfg.dit_lr)
    state = DiTState()
    if dit_path.exists():
        saved = torch.load(dit_path)
        system.dit.load_state_dict(saved["dit"])
        optimiser.load_state_dict(saved["optimiser"])
        state = DiTState(saved["step"], saved["losses"])

    def checkpoint(s: DiTState) -> None:
        save_atomically({"dit": system.dit.state_dict(), "optimiser": optimiser.state_dict(), "step": s.step, "losses": s.losses}, dit_path)

    state = train_dit(system, cache, seeds, state, optimiser, checkpoint, progress, stop_after)
    return {"vae_losses": vae_losses, "dit_losses": state.losses, "dit_step": state.step}


def load_trained(system: ReferenceSystem, out: Path) -> ReferenceSystem:
    """The VAE and DiT weights of a finished (or checkpointed) run."""
    system.vae.load_state_dict(torch.load(out / "vae.pt"))
    system.dit.load_state_dict(torch.load(out / "dit.pt")["dit"])
    system.vae.eval()
    system.dit.eval()
    return system

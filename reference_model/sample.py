"""Euler sampling of the rectified flow from s = 1 (noise) to 0 with classifier-free guidance."""
from __future__ import annotations

import numpy as np
import torch

from reference_model.system import ReferenceSystem


@torch.no_grad()
def generate(system: ReferenceSystem, captions: list[str], frames: int, seed: int, steps: int, guidance: float) -> np.ndarray:
    """Videos (B, T, H, W, 3) uint8 for the captions: one conditional and one unconditional pass a step."""
    cfg, vae = system.config, system.config.vae
    latent_frames = (frames - 1) // vae.temporal_compression + 1
    shape = (len(captions), vae.latent_channels, latent_frames, cfg.clip.height // vae.spatial_compression, cfg.clip.width // vae.spatial_compression)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    text, mask = system.encode_text(captions)
    empty_text, empty_mask = torch.zeros_like(text), torch.zeros_like(mask)
    grid = torch.linspace(1.0, 0.0, steps + 1)
    for s, s_next in zip(grid[:-1], grid[1:]):
        s_batch = s.expand(len(captions))
        v_cond = system.dit(z, s_batch, text, mask)
        v_uncond = system.dit(z, s_batch, empty_text, empty_mask)
        v = v_uncond + guidance * (v_cond - v_uncond)
        z = z + (s - s_next) * v  # dz/ds = eps - z0 = -v
    pixels = system.vae.decode(z)[:, :, :frames]  # (B, 3, T, H, W) in about [-1, 1]
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()

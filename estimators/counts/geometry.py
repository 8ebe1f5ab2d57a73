"""From pixels to tokens: VAE compression and patching (Mochi: 8x8 spatial, 6x temporal, 2x2 patches)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from estimators.errors import PlanInputError
from estimators.specs.vaes import StepVideoVAESpec


class PatchedDiT(Protocol):
    """What the geometry needs of a DiT spec: its patch sides in latent pixels and latent frames."""

    patch_size: int
    patch_size_t: int


@dataclass(frozen=True)
class ClipGeometry:
    """Shapes of one clip through the pipeline; all counts per clip."""

    frames: int
    height: int
    width: int
    latent_frames: int
    latent_height: int
    latent_width: int
    visual_tokens: int

    @property
    def latent_elements(self) -> int:
        """Latent values per channel: T x H x W."""
        return self.latent_frames * self.latent_height * self.latent_width


def latent_frame_count(vae, frames: int) -> int:
    """Latent frames of a clip, or a PlanInputError naming the VAE's frame rule.

    A causal VAE encodes the first frame alone: frames = t k + 1 give k + 1 latent frames. A chunked VAE
    (Step-Video: ``chunk_frames`` 17 -> ``chunk_latent_frames`` 3) takes whole chunks only.
    """
    if isinstance(vae, StepVideoVAESpec):
        chunk = vae.chunk_frames
        if frames < chunk or frames % chunk:
            nearest = max(chunk, frames // chunk * chunk)
            raise PlanInputError(f"{vae.label}: frames must be {chunk}k (got {frames}; e.g. {nearest} or {nearest + chunk})")
        return frames // chunk * vae.chunk_latent_frames
    t = vae.temporal_compression
    if frames < 1 or (frames - 1) % t:
        nearest = max(1, (frames - 1) // t * t + 1)
        raise PlanInputError(f"{vae.label}: frames must be {t}k+1 (got {frames}; e.g. {nearest} or {nearest + t})")
    return (frames - 1) // t + 1


def clip_geometry(vae, dit: PatchedDiT, frames: int, height: int, width: int) -> ClipGeometry:
    """Latent shape and visual token count; rejects sizes the causal VAE or the patching cannot divide.

    Latent frames by the VAE's rule (latent_frame_count: causal (frames - 1) / t + 1, or whole chunks).
    Tokens = latent frames / patch_t x (latent h / p) x (latent w / p) (Mochi: 28 x 30 x 53 = 44,520).
    ``vae`` is any VAE spec (estimators.specs.vaes.VAESpec).
    """
    s = vae.spatial_compression
    latent_frames = latent_frame_count(vae, frames)
    side = s * dit.patch_size
    for label, value in (("height", height), ("width", width)):
        if value < side or value % side:
            raise PlanInputError(
                f"{vae.label}: {label} must be a positive multiple of {side} (got {value}; VAE {s}x, patch {dit.patch_size})"
            )
    if latent_frames % dit.patch_size_t:
        raise PlanInputError(
            f"frames={frames}: {latent_frames} latent frames ({vae.label}, {vae.frame_rule_text}) do not divide "
            f"into temporal patches of {dit.patch_size_t}"
        )
    lh, lw = height // s, width // s
    tokens = (latent_frames // dit.patch_size_t) * (lh // dit.patch_size) * (lw // dit.patch_size)
    return ClipGeometry(frames, height, width, latent_frames, lh, lw, tokens)

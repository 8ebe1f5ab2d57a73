"""The reference system's configuration and components, built from the estimators' spec classes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import Field

from estimators.catalog.files import read_mapping
from estimators.specs.asymm_dit import AsymmDiTSpec
from estimators.specs.base import Spec
from estimators.specs.text_encoders import T5EncoderSpec
from estimators.specs.vaes import VideoVAESpec
from reference_model.dit import AsymmDiT
from reference_model.text_encoder import T5Encoder
from reference_model.tokenizer import WordTokenizer
from reference_model.vae import VideoVAE

CONFIG_DIR = Path(__file__).parent / "configs"


class ClipConfig(Spec):
    frames: int = Field(description="Frames a training clip (6k+1).")
    height: int = Field(description="Pixels.")
    width: int = Field(description="Pixels.")
    fps: float = Field(description="Frames per second of written videos.")


class TrainingConfig(Spec):
    seed: int = Field(description="Seed of data order, noise and initialisation.")
    dataset_clips: int = Field(description="Distinct training clips (seeds 0..n-1).")
    vae_steps: int = Field(description="VAE reconstruction steps.")
    vae_batch: int = Field(description="Clips a VAE step.")
    vae_lr: float = Field(description="AdamW learning rate of the VAE.")
    dit_steps: int = Field(description="DiT rectified-flow steps.")
    dit_batch: int = Field(description="Clips a DiT step.")
    dit_lr: float = Field(description="AdamW learning rate of the DiT.")
    caption_dropout: float = Field(description="Share of captions dropped for classifier-free guidance.")
    precompute: bool = Field(description="Cache latents and text features once (true) or encode every step.")
    checkpoint_every: int = Field(description="Steps between DiT checkpoints.")


class SamplingConfig(Spec):
    steps: int = Field(description="Euler steps from s = 1 to 0.")
    guidance: float = Field(description="Classifier-free guidance scale.")


class EvaluationConfig(Spec):
    prompts: int = Field(description="Held-out prompts scored.")
    seed: int = Field(description="First seed searched for held-out prompts.")


class ReferenceConfig(Spec):
    """One YAML file: the three model specs and the training, sampling and evaluation settings."""

    clip: ClipConfig = Field(description="Size of the training clips.")
    text_encoder: T5EncoderSpec = Field(description="The frozen T5-style encoder.")
    vae: VideoVAESpec = Field(description="The causal video VAE (trained first, then frozen).")
    dit: AsymmDiTSpec = Field(description="The AsymmDiT trained with rectified flow.")
    training: TrainingConfig = Field(description="Budgets, batches, learning rates, seeds.")
    sampling: SamplingConfig = Field(description="Euler steps and guidance for generation.")
    evaluation: EvaluationConfig = Field(description="Held-out prompts for scoring.")


def load_config(name_or_path: str) -> ReferenceConfig:
    """'default', 'quick' or a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    return ReferenceConfig.model_validate(read_mapping(path))


@dataclass
class ReferenceSystem:
    """Tokenizer, frozen text encoder, VAE and DiT of one config."""

    config: ReferenceConfig
    tokenizer: WordTokenizer
    text_encoder: T5Encoder
    vae: VideoVAE
    dit: AsymmDiT

    @classmethod
    def build(cls, config: ReferenceConfig) -> "ReferenceSystem":
        torch.manual_seed(config.training.seed)
        text_encoder = T5Encoder(config.text_encoder).eval().requires_grad_(False)
        return cls(config, WordTokenizer(config.text_encoder.vocab_size, config.dit.max_text_tokens), text_encoder,
                   VideoVAE(config.vae), AsymmDiT(config.dit))

    def encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen T5 features (B, L, D) and validity masks (B, L); padding rows zeroed."""
        encoded = [self.tokenizer.encode(c) for c in captions]
        ids = torch.tensor([e[0] for e in encoded])
        mask = torch.arange(ids.shape[1])[None] < torch.tensor([e[1] for e in encoded])[:, None]
        with torch.no_grad():
            feats = self.text_encoder(ids, mask) * mask[..., None]
        return feats, mask

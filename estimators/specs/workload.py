"""What is trained on: clips, their size, text length, dataset and batch, in one or more stages."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, NonNegativeInt, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Bound
from estimators.specs.training import Training

# Bounds of a training stage, wherever it comes from (options, --stage, a workload file, sweeps, a model's clip).
MAX_CLIP_SIDE = 16_384  # pixels
Pixels = Annotated[int, Bound(1, MAX_CLIP_SIDE)]
Frames = Annotated[int, Bound(1, 100_000)]  # 55 minutes at 30 fps
Fps = Annotated[float, Bound(0.01, 1_000)]  # below, clip seconds and raw-video bytes grow past any real dataset
TextTokens = Annotated[int, Bound(1, 100_000)]
Clips = Annotated[int, Bound(1, 10**12)]
Epochs = Annotated[float, Bound(0, 1e6, above=True)]
Steps = Annotated[int, Bound(1, 10**12)]
GlobalBatch = Annotated[int, Bound(1, 65_536)]
MAX_STAGES = 8  # each stage is planned (and its layouts searched) on its own


class TrainingStage(Spec):
    """One stage of training at one clip size (e.g. 256p pre-training, then 480p)."""

    name: str = Field(default="main", description="Label of the stage.")
    height: Pixels = Field(description="Clip height in pixels.")
    width: Pixels = Field(description="Clip width in pixels.")
    frames: Frames = Field(description="Frames a clip (a causal VAE needs k*temporal_compression + 1).")
    fps: Fps = Field(default=30.0, description="Frames per second of the clips (sets clip seconds).")
    text_tokens: TextTokens = Field(description="Valid caption tokens a clip (padding tokens are dropped).")
    num_clips: Optional[Clips] = Field(default=None, description="Distinct clips in the dataset.")
    epochs: Optional[Epochs] = Field(default=None, description="Passes over the dataset.")
    steps: Optional[Steps] = Field(default=None, description="Optimizer steps (instead of clips x epochs).")
    global_batch: GlobalBatch = Field(description="Clips per optimizer step.")

    @model_validator(mode="after")
    def _check_length(self) -> "TrainingStage":
        by_data = self.num_clips is not None and self.epochs is not None
        if by_data == (self.steps is not None):
            raise ValueError("give either num_clips and epochs, or steps")
        return self

    @property
    def num_steps(self) -> int:
        """Optimizer steps of this stage: given, or ceil(clips x epochs / global batch)."""
        if self.steps is not None:
            return self.steps
        samples = self.num_clips * self.epochs
        return int(-(-samples // self.global_batch))

    @property
    def num_samples(self) -> int:
        """Clips seen in this stage (steps x global batch)."""
        return self.num_steps * self.global_batch


class Workload(Spec):
    """All stages of one training plan and how the frozen encoders are run."""

    stages: tuple[TrainingStage, ...] = Field(min_length=1, max_length=MAX_STAGES, description="Training stages in order.")
    precompute_text: bool = Field(
        default=True, description="T5 embeddings computed once offline (true) or every step (false)."
    )
    precompute_latents: bool = Field(
        default=True, description="VAE latents computed once offline (true) or every step (false)."
    )
    cfg_dropout: float = Field(
        default=0.1, ge=0, le=1, description="Share of captions dropped for classifier-free guidance."
    )
    preprocess_passes: NonNegativeInt = Field(
        default=1, description="Offline encoding passes over the dataset when precomputing (1: one encode per clip)."
    )
    training: Training = Field(
        default_factory=Training, description="Full training or LoRA, and how the trained weights and their optimizer states are kept."
    )

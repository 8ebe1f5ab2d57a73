"""Model-family specs. Every architectural choice is a field, so presets are pure data.

Families:
- ``video_dit``: a video DiT composed from the block vocabulary of specs/dit_blocks.py (Mochi 1, Wan 2.1/2.2,
  HunyuanVideo 1 and 1.5, CogVideoX, LTX-Video, Cosmos-Predict2, Open-Sora 2.0, Step-Video-T2V); a system may
  split it into experts by noise level (Wan 2.2 A14B: ``Experts``).
- ``asymm_dit``: the legacy description of Mochi's asymmetric dual-stream DiT (specs/asymm_dit.py), still
  accepted in a file and translated into a ``video_dit`` when the system is validated.
- ``t5_encoder``: the encoder half of T5 v1.1 (Raffel et al. 2020; v1.1 gated-GELU variant).
- ``video_vae``: a causal 3D-conv video VAE described as stages of channels and blocks.
- ``gpt``: a decoder-only causal LLM, used to check the time model on published LLM runs.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from estimators.errors import PlanInputError
from estimators.specs.asymm_dit import AsymmDiTSpec, asymm_to_video_dit
from estimators.specs.base import Spec
from estimators.specs.bounds import Bound, Depth, Size
from estimators.specs.dit_blocks import VideoDiTSpec
from estimators.specs.text_encoders import TextEncoderSpec
from estimators.specs.vaes import VAESpec
from estimators.specs.workload import Fps, Frames, Pixels, TextTokens


class GPTSpec(Spec):
    """Decoder-only causal transformer (Megatron GPT / Llama), for checking the time model."""

    family: Literal["gpt"] = "gpt"
    num_layers: Depth = Field(description="Transformer layers.")
    hidden_size: Size = Field(description="Model width h.")
    num_heads: Size = Field(description="Query heads a.")
    num_kv_heads: Size = Field(description="Key/value heads (grouped-query attention when < num_heads).")
    ffn_hidden_size: Size = Field(description="MLP hidden width.")
    gated_mlp: bool = Field(description="SwiGLU-style gated MLP (three matrices) instead of two.")
    vocab_size: Size = Field(description="Vocabulary size (embedding and untied output layer).")
    seq_len: Size = Field(description="Training sequence length s.")

    @model_validator(mode="after")
    def _check_heads(self) -> "GPTSpec":
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must divide by num_heads, and num_heads by num_kv_heads")
        return self


MAX_EXPERTS = 64  # experts of one model (Wan 2.2: 2)


class DefaultClip(Spec):
    """The clip a preset is planned at unless the user gives another (the model's published setting)."""

    frames: Frames = Field(description="Frames a clip (the VAE's rule applies, e.g. 4k+1).")
    height: Pixels = Field(description="Height in pixels.")
    width: Pixels = Field(description="Width in pixels.")
    text_tokens: TextTokens = Field(description="Caption tokens a clip.")
    fps: Fps = Field(default=30.0, description="Frame rate of the model's clips (only sets the clip's seconds).")


ExpertResidency = Literal["one", "all"]
# Shares of the training samples must add up to 1 within this (shares are written with a few decimals).
SHARE_SUM_TOLERANCE = 1e-3


class Expert(Spec):
    """One expert of a model whose DiT is split by noise level: the noise levels it denoises and the share of
    the training samples that falls on them."""

    name: str = Field(description="Name, e.g. 'high_noise'.")
    noise_levels: tuple[float, float] = Field(description="[low, high) of the noise level sigma (0 clean, 1 pure noise) it denoises.")
    share: Annotated[float, Bound(0, 1, above=True)] = Field(
        description="Share of the training samples on its noise levels, under the training timestep distribution."
    )


class Experts(Spec):
    """A DiT split into experts by noise level, each expert the same architecture (``dit``) with its own weights
    (Wan 2.2 A14B: a high-noise and a low-noise 14B expert, switched at a boundary timestep). Every sample
    runs through the one expert of its noise level, so a step's FLOPs and activations are one expert's."""

    experts: tuple[Expert, ...] = Field(min_length=2, max_length=MAX_EXPERTS, description="The experts, highest noise first.")
    residency: ExpertResidency = Field(
        description="'one': each expert trained in a run of its own on its share of the samples, one expert's weights, "
        "gradients and optimizer states in memory; 'all': one run, every expert's states resident, each sample through "
        "its expert."
    )
    source: str = Field(description="Where the split, the shares and the residency come from.")

    @model_validator(mode="after")
    def _shares_add_up(self) -> "Experts":
        total = sum(expert.share for expert in self.experts)
        if abs(total - 1) > SHARE_SUM_TOLERANCE:
            raise ValueError(f"expert shares must add up to 1 (they add up to {total:g})")
        for expert in self.experts:
            low, high = expert.noise_levels
            if not 0 <= low < high <= 1:
                raise ValueError(f"expert {expert.name}: noise_levels must be 0 <= low < high <= 1")
        return self

    @property
    def count(self) -> int:
        """Experts in the model."""
        return len(self.experts)

    @property
    def resident(self) -> int:
        """Experts whose weights, gradients and optimizer states a training run holds at once."""
        return self.count if self.residency == "all" else 1


# What a file may give as its DiT; once validated it is always a VideoDiTSpec.
DiTInput = Annotated[Union[AsymmDiTSpec, VideoDiTSpec], Field(discriminator="family")]


class VideoSystemSpec(Spec):
    """A text-to-video training system: the trained DiT plus its frozen text encoder and VAE."""

    name: str = Field(description="Preset name, e.g. 'mochi-10b'.")
    source: str = Field(description="Where the architecture facts come from.")
    exact: bool = Field(
        description="True when counts reproduce the public implementation to the unit; false when the "
        "architecture is approximated within these families (see published_params)."
    )
    published_params: dict[str, int] = Field(
        default_factory=dict, description="Parameter counts the source publishes, per component, for comparison."
    )
    dit: DiTInput = Field(
        description="The diffusion transformer that is trained: a video_dit, or a legacy asymm_dit translated into one "
        "(after validation always a VideoDiTSpec)."
    )
    text_encoder: Union[TextEncoderSpec, Annotated[tuple[TextEncoderSpec, ...], Field(min_length=1)]] = Field(
        description="Frozen text encoder, or several (HunyuanVideo: an LLM for the tokens and CLIP-L for a pooled vector)."
    )
    vae: VAESpec = Field(description="Frozen video VAE.")
    default_clip: DefaultClip = Field(
        default=DefaultClip(frames=163, height=480, width=848, text_tokens=256),
        description="Clip planned when the command line gives none (default: Mochi's 163 frames 480x848, 256 tokens).",
    )
    experts: Optional[Experts] = Field(
        default=None, description="A DiT split into experts by noise level (Wan 2.2 A14B); None: one DiT trained on every sample."
    )
    notes: Optional[str] = Field(default=None, description="Remarks shown with the plan (what an approximation leaves out, conventions).")

    @field_validator("dit", mode="after")
    @classmethod
    def _dit_in_block_vocabulary(cls, dit: AsymmDiTSpec | VideoDiTSpec) -> VideoDiTSpec:
        return asymm_to_video_dit(dit) if isinstance(dit, AsymmDiTSpec) else dit

    @property
    def expert_count(self) -> int:
        """Copies of the DiT's architecture the model holds (1 without experts)."""
        return self.experts.count if self.experts else 1

    @property
    def resident_experts(self) -> int:
        """Copies of the DiT's trained states a training run holds at once (1 without experts)."""
        return self.experts.resident if self.experts else 1

    def with_expert_residency(self, residency: Optional[ExpertResidency]) -> "VideoSystemSpec":
        """This system with its experts held as ``residency`` says (None: as the model file says)."""
        if residency is None:
            return self
        if self.experts is None:
            raise PlanInputError(f"{self.name} has no experts: expert residency applies to models split into experts (e.g. wan2.2-t2v-a14b)")
        return self.model_copy(update={"experts": self.experts.model_copy(update={"residency": residency})})

    @property
    def text_encoders(self) -> tuple:
        """Every frozen text encoder, as a tuple."""
        return self.text_encoder if isinstance(self.text_encoder, tuple) else (self.text_encoder,)

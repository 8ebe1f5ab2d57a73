"""Model-family specs. Every architectural choice is a field, so presets are pure data.

Families:
- ``asymm_dit``: Mochi's asymmetric dual-stream diffusion transformer (Genmo, Mochi 1, 2024).
- ``video_dit``: a video DiT composed from the block vocabulary of specs/dit_blocks.py (Wan 2.1,
  HunyuanVideo, CogVideoX, LTX-Video).
- ``t5_encoder``: the encoder half of T5 v1.1 (Raffel et al. 2020; v1.1 gated-GELU variant).
- ``video_vae``: a causal 3D-conv video VAE described as stages of channels and blocks.
- ``gpt``: a decoder-only causal LLM, used to check the time model on published LLM runs.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Depth, Size, SizeOrZero
from estimators.specs.dit_blocks import VideoDiTSpec
from estimators.specs.text_encoders import TextEncoderSpec
from estimators.specs.vaes import VAESpec
from estimators.specs.workload import Fps, Frames, Pixels, TextTokens


class AsymmDiTSpec(Spec):
    """Asymmetric diffusion transformer: visual and text streams with their own widths and
    weights, one joint full attention per block (Mochi 1, genmoai/mochi asymm_attention.py)."""

    family: Literal["asymm_dit"] = "asymm_dit"
    num_layers: Depth = Field(description="Number of dual-stream blocks (Mochi: 48).")
    num_heads: Size = Field(description="Attention heads of the joint attention (Mochi: 24).")
    head_dim: Size = Field(description="Width of one head (Mochi: 128).")
    visual_width: Size = Field(description="Hidden width d_x of the visual stream (Mochi: 3072).")
    text_width: Size = Field(description="Hidden width d_y of the text stream (Mochi: 1536).")
    text_stream: Literal["separate", "shared"] = Field(
        default="separate",
        description="'separate': text tokens have their own qkv/out/MLP weights (Mochi, MM-DiT); "
        "'shared': text tokens run through the visual weights (CogVideoX-style single stream).",
    )
    patch_size: Size = Field(description="Spatial patch side in latent pixels (Mochi: 2).")
    patch_size_t: Size = Field(default=1, description="Temporal patch length in latent frames (Mochi: 1).")
    in_channels: Size = Field(description="Latent channels in (Mochi: 12).")
    out_channels: Size = Field(description="Latent channels predicted (Mochi: 12).")
    text_feature_dim: Size = Field(description="Width of the text encoder's features (T5-XXL: 4096).")
    max_text_tokens: Size = Field(description="Text tokens the model is trained with (Mochi: 256).")
    timestep_freq_dim: Size = Field(
        description="Sinusoidal timestep features fed to the timestep MLP (Mochi: 256)."
    )
    cond_width: Size = Field(
        description="Width of the per-sample conditioning vector c = t_emb + pooled caption (Mochi: 3072)."
    )
    mlp_activation: Literal["swiglu", "gelu"] = Field(description="MLP type (Mochi: swiglu, no bias).")
    mlp_ratio: float = Field(gt=0, description="MLP hidden / width before SwiGLU's 2/3 rule (Mochi: 4).")
    mlp_multiple_of: Size = Field(
        default=1, description="MLP hidden rounded up to a multiple of this (Mochi: 256)."
    )
    modulation_outputs: Size = Field(
        description="Vectors of width visual_width the visual adaLN projection emits a block "
        "(Mochi: 4 = scale_msa, gate_msa, scale_mlp, gate_mlp; no shift)."
    )
    text_modulation_outputs: SizeOrZero = Field(
        description="Vectors of width text_width the text adaLN projection emits a block (Mochi: 4; "
        "0 when the text stream has no modulation of its own)."
    )
    last_block_text_modulation_outputs: SizeOrZero = Field(
        description="Vectors emitted for the text stream by the last block (Mochi: 1, a scale only)."
    )
    last_block_updates_text: bool = Field(
        description="Whether the last block has a text out-projection and text MLP (Mochi: false)."
    )
    qkv_bias: bool = Field(description="Bias on the q/k/v projections (Mochi: false).")
    out_bias: bool = Field(description="Bias on the attention out-projections (Mochi: true).")
    mlp_bias: bool = Field(description="Bias in the MLPs (Mochi: false).")
    qk_norm: bool = Field(description="Learned RMSNorm of width head_dim on q and k of each stream (Mochi: true).")
    attn_pool_heads: SizeOrZero = Field(
        description="Heads of the attention pooling of text features into the conditioning (Mochi: 8; "
        "0 = no pooled caption, the conditioning is the timestep alone)."
    )
    learned_rope: bool = Field(
        description="Learned mixed 3D RoPE frequencies (3, heads, head_dim/2) on visual q/k (Mochi: true)."
    )
    final_modulation_outputs: Size = Field(description="adaLN vectors of the final layer (Mochi: 2).")

    @model_validator(mode="after")
    def _check_shapes(self) -> "AsymmDiTSpec":
        if self.head_dim % 2:
            raise ValueError("head_dim must be even for rotary embeddings")
        if self.text_stream == "shared" and self.text_width != self.visual_width:
            raise ValueError("a shared text stream needs text_width == visual_width")
        if self.attn_pool_heads and self.text_feature_dim % self.attn_pool_heads:
            raise ValueError("text_feature_dim must divide into attn_pool_heads")
        return self

    @property
    def attn_width(self) -> int:
        """Width of the joint attention, heads x head_dim (Mochi: 3072)."""
        return self.num_heads * self.head_dim

    def mlp_hidden(self, width: int) -> int:
        """MLP hidden size: SwiGLU takes 2/3 of ratio*width, rounded up (genmoai/mochi FeedForward)."""
        hidden = int(self.mlp_ratio * width)
        if self.mlp_activation == "swiglu":
            hidden = int(2 * hidden / 3)
        return self.mlp_multiple_of * -(-hidden // self.mlp_multiple_of)


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


class DefaultClip(Spec):
    """The clip a preset is planned at unless the user gives another (the model's published setting)."""

    frames: Frames = Field(description="Frames a clip (the VAE's rule applies, e.g. 4k+1).")
    height: Pixels = Field(description="Height in pixels.")
    width: Pixels = Field(description="Width in pixels.")
    text_tokens: TextTokens = Field(description="Caption tokens a clip.")
    fps: Fps = Field(default=30.0, description="Frame rate of the model's clips (only sets the clip's seconds).")


DiTSpec = Annotated[Union[AsymmDiTSpec, VideoDiTSpec], Field(discriminator="family")]


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
    dit: DiTSpec = Field(description="The diffusion transformer that is trained.")
    text_encoder: Union[TextEncoderSpec, Annotated[tuple[TextEncoderSpec, ...], Field(min_length=1)]] = Field(
        description="Frozen text encoder, or several (HunyuanVideo: an LLM for the tokens and CLIP-L for a pooled vector)."
    )
    vae: VAESpec = Field(description="Frozen video VAE.")
    default_clip: DefaultClip = Field(
        default=DefaultClip(frames=163, height=480, width=848, text_tokens=256),
        description="Clip planned when the command line gives none (default: Mochi's 163 frames 480x848, 256 tokens).",
    )
    notes: Optional[str] = Field(default=None, description="Remarks shown with the plan (what an approximation leaves out, conventions).")

    @property
    def text_encoders(self) -> tuple:
        """Every frozen text encoder, as a tuple."""
        return self.text_encoder if isinstance(self.text_encoder, tuple) else (self.text_encoder,)

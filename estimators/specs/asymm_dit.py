"""The legacy ``asymm_dit`` input format (Mochi 1's asymmetric diffusion transformer, Genmo 2024) and its
translation into the block vocabulary of specs/dit_blocks.py.

Files with ``family: asymm_dit`` still load: VideoSystemSpec translates the spec once, when it is
validated, so every count reads a VideoDiTSpec. The reference model (reference_model/dit.py) builds its
PyTorch Mochi-like DiT from this spec.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Depth, Size, SizeOrZero
from estimators.specs.dit_blocks import (
    AttentionOptions,
    Conditioning,
    FinalLayer,
    Fp32Upcasts,
    JointBlock,
    MLPOptions,
    Modulation,
    QKNorm,
    VideoDiTSpec,
)


class AsymmDiTSpec(Spec):
    """Asymmetric diffusion transformer: visual and text streams with their own widths and weights, one
    joint full attention per block (Mochi 1, genmoai/mochi asymm_attention.py)."""

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


# The reference model's GELU is the tanh approximation (reference_model/dit.py mlp); counted as any GELU.
MLP_ACTIVATIONS = {"swiglu": "swiglu", "gelu": "gelu_tanh"}


def _mlp(spec: AsymmDiTSpec, width: int) -> MLPOptions:
    return MLPOptions(activation=MLP_ACTIVATIONS[spec.mlp_activation], hidden=spec.mlp_hidden(width), bias=spec.mlp_bias)


def _blocks(spec: AsymmDiTSpec) -> tuple[JointBlock, ...]:
    """The blocks as joint groups: every block but the last, then the last under the last-block rule.

    Each stream: parameterless RMSNorm before and after each sublayer (x + tanh(gate) * RMSNorm(branch)),
    per-head learned q/k RMSNorm, fused q/k/v, the attention output copied before the out-projection
    (how genmoai/mochi and reference_model/dit.py hold their tensors). A shared text stream runs through
    the visual weights in every block; only its modulation vectors follow the last-block rule.
    """
    shared = spec.text_stream == "shared"
    attention = AttentionOptions(qkv_bias=spec.qkv_bias, out_bias=spec.out_bias, qk_norm=QKNorm(kind="rms" if spec.qk_norm else "none"),
                                 fused_qkv=True, output_copied=True)

    def group(count: int, text_outputs: int, updates_text: bool) -> JointBlock:
        return JointBlock(
            count=count, norm="rms", post_norm="rms", attention=attention, mlp=_mlp(spec, spec.visual_width),
            text_mlp=None if shared or not updates_text else _mlp(spec, spec.text_width),
            modulation=Modulation(kind="per_block", outputs=spec.modulation_outputs, text_outputs=text_outputs),
            updates_text=updates_text, text_weights="visual" if shared else "own",
            # Mochi's norms run in fp32 (genmoai/mochi mod_layers.py; diffusers MochiRMSNormZero / MochiModulatedRMSNorm);
            # its q/k norms are diffusers' MochiRMSNorm, eager (an fp32 input copy, the scale multiplied in fp32)
            diffusers_fp32=Fp32Upcasts(norms=True, post_norms=True, qk_norms="mochi_rms_norm" if spec.qk_norm else "none"),
        )

    updates_last = spec.last_block_updates_text
    last_text_outputs = spec.text_modulation_outputs if updates_last else spec.last_block_text_modulation_outputs
    full = group(spec.num_layers, spec.text_modulation_outputs, True)
    last = group(1, last_text_outputs, updates_last or shared)
    if last == full.model_copy(update={"count": 1}):
        return (full,)
    if spec.num_layers == 1:
        return (last,)
    return (full.model_copy(update={"count": spec.num_layers - 1}), last)


def asymm_to_video_dit(spec: AsymmDiTSpec) -> VideoDiTSpec:
    """The same model in the block vocabulary, with the same parameters, FLOPs and saved activations."""
    return VideoDiTSpec(
        num_heads=spec.num_heads, head_dim=spec.head_dim,
        hidden_width=spec.visual_width if spec.visual_width != spec.attn_width else None,
        text_width=spec.text_width if spec.text_width != spec.visual_width else None,
        patch_size=spec.patch_size, patch_size_t=spec.patch_size_t, in_channels=spec.in_channels, out_channels=spec.out_channels,
        text_feature_dim=spec.text_feature_dim, max_text_tokens=spec.max_text_tokens, embeds_padded_caption=True,
        caption_projection="linear",
        conditioning=Conditioning(width=spec.cond_width, timestep_freq_dim=spec.timestep_freq_dim, caption_pool_heads=spec.attn_pool_heads),
        rope="learned_3d" if spec.learned_rope else "none",
        blocks=_blocks(spec),
        final_layer=FinalLayer(norms=("layer",), modulation="per_block", modulation_outputs=spec.final_modulation_outputs),
    )

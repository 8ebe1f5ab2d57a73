"""The ``video_dit`` family: a video diffusion transformer composed from a vocabulary of parts.

A model is its embedders (patch, caption, conditioning, optional token refiner), a list of block
groups (each a block kind with its options, repeated ``count`` times, in order) and a final layer.
The vocabulary covers the public video DiTs:
- ``cross`` blocks: 3D self-attention over the visual tokens, then cross-attention from them to the
  text tokens, then an MLP (Wan 2.1/2.2, LTX-Video, Step-Video; PixArt-style; Cosmos-Predict2 with an
  adaLN-LoRA modulated cross-attention and keys/values straight from the T5 features).
- ``joint`` blocks: one full attention over visual + text tokens with separate text weights
  (MM-DiT dual stream; HunyuanVideo's first 20 blocks, HunyuanVideo 1.5's 54, Open-Sora 2.0's 19; Mochi 1's
  asymmetric blocks, whose text stream is narrower than the visual one and whose last block does not
  update the text).
- ``single`` blocks: one stream over the concatenated text + video tokens with shared weights, either
  sequential (CogVideoX, with per-modality adaptive norms as extra modulation vectors) or parallel
  attention + MLP with one fused out-projection (HunyuanVideo's last 40 blocks).
The text side of the blocks may hold further context tokens besides the caption's, each group from its own
encoder and projection (``context_embedders``: HunyuanVideo 1.5's ByT5 glyph tokens, Step-Video's CLIP tokens).
Widths: the attention is heads x head_dim wide; the visual tokens between blocks have the same width
unless ``hidden_width`` says otherwise, the text tokens ``text_width`` (Mochi: 3072 attention and visual,
1536 text). The legacy ``asymm_dit`` input (specs/asymm_dit.py) is translated into this vocabulary.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Depth, Size, SizeOrZero

NormKind = Literal["none", "layer", "layer_affine", "rms", "rms_affine"]
NORM_KINDS_HELP = (
    "'layer' / 'rms': LayerNorm / RMSNorm without learned parameters; '_affine': with a learned scale "
    "(LayerNorm also a bias); 'none': no norm"
)
MLPActivation = Literal["gelu", "gelu_tanh", "silu", "swiglu", "geglu"]


class QKNorm(Spec):
    """Normalisation of queries and keys before the score product."""

    kind: Literal["none", "rms", "layer"] = Field(default="none", description="'rms' (Wan, HunyuanVideo, LTX), 'layer' (CogVideoX) or 'none'.")
    across_heads: bool = Field(
        default=False, description="True: one norm over all heads (width heads x head_dim; Wan, LTX); false: per head (width head_dim)."
    )
    affine: bool = Field(default=True, description="Learned scale.")
    bias: bool = Field(default=False, description="Learned bias as well (LayerNorm; CogVideoX).")


class AttentionOptions(Spec):
    """Projections of one attention: q, k, v in and the out-projection; the last two fields describe how an
    implementation holds its tensors (they change saved activations only, not parameters or FLOPs)."""

    qkv_bias: bool = Field(default=True, description="Bias on the q/k/v projections.")
    out_bias: bool = Field(default=True, description="Bias on the out-projection.")
    qk_norm: QKNorm = Field(default_factory=QKNorm, description="Query/key norm.")
    fused_qkv: bool = Field(
        default=False,
        description="q, k and v come out of one linear as one storage (genmoai/mochi qkv_x / qkv_y, reference_model/dit.py; "
        "diffusers' separate to_q, to_k, to_v: false). While the q/k norm keeps its input, a view of that storage, v's "
        "projection stays alive with it, besides the concatenated copy a joint block's attention reads.",
    )
    output_copied: bool = Field(
        default=False,
        description="The out-projection reads a contiguous copy of the attention output (heads-major output transposed "
        "to tokens-major: reference_model/dit.py), kept for backward besides the output the attention kernel keeps.",
    )


class MLPOptions(Spec):
    """The feed-forward part: hidden width and activation ('swiglu'/'geglu' are gated: two first-layer halves)."""

    activation: MLPActivation = Field(description="gelu / gelu_tanh (counted the same), silu, or gated swiglu / geglu.")
    hidden: Size = Field(description="Hidden width f (Wan 14B: 13824; 4 x width for CogVideoX, LTX, HunyuanVideo).")
    bias: bool = Field(default=True, description="Biases on both layers.")

    @property
    def gated(self) -> bool:
        """Gated MLPs have a first layer of 2f outputs (value and gate halves)."""
        return self.activation in ("swiglu", "geglu")


class Modulation(Spec):
    """Adaptive-norm (adaLN) vectors of a block: the visual (or single-stream) vectors of the visual width, the
    text vectors of the text width (each stream its own projection, with bias, in a joint block).

    per_block: the block's own linear cond -> outputs x width (DiT, HunyuanVideo, CogVideoX);
    shared_table: a learned table of outputs x width added to one projection shared by all blocks
      (Wan, PixArt-alpha, LTX-Video: see Conditioning.shared_modulation_outputs);
    low_rank: per block, ``groups`` down-projections cond -> rank and up-projections to the vectors,
      without biases (Cosmos adaLN-LoRA).
    """

    kind: Literal["per_block", "shared_table", "low_rank"] = Field(description="How the block gets its vectors.")
    outputs: Size = Field(
        description="Vectors for the visual (or the single) stream: 6 = shift, scale, gate for attention and MLP "
        "(Mochi: 4 = scale and tanh gate for each, no shift)."
    )
    text_outputs: SizeOrZero = Field(
        default=0,
        description="Vectors of the text stream's own projection (joint blocks; HunyuanVideo: 6; Mochi: 4, and 1 - a scale "
        "only - in its last block, whose text stream is not updated).",
    )
    rank: SizeOrZero = Field(default=0, description="Rank of the low-rank projection (low_rank only).")
    groups: Size = Field(default=1, description="Separate low-rank projections, the vectors split evenly (Cosmos: 3).")

    @model_validator(mode="after")
    def _check(self) -> "Modulation":
        if self.kind == "low_rank" and (self.rank < 1 or self.outputs % self.groups):
            raise ValueError("low_rank modulation needs rank >= 1 and outputs divisible by groups")
        if self.kind != "per_block" and self.text_outputs:
            raise ValueError("text_outputs needs per_block modulation")
        return self


EagerQKNorm = Literal["none", "rms_norm", "mochi_rms_norm"]


class Fp32Upcasts(Spec):
    """Where the model's eager diffusers class computes in fp32 what the vocabulary computes in the activation
    dtype. These change what an eager bf16 run saves for backward (counts/saved.py, implementation
    'diffusers'), not parameters or FLOPs; a fused implementation (Megatron-Core / Transformer Engine) keeps none."""

    norms: bool = Field(
        default=False,
        description="Each pre-sublayer norm runs on an fp32 copy of its input and is modulated in fp32, then cast back "
        "(Mochi MochiRMSNormZero / MochiModulatedRMSNorm; Wan FP32LayerNorm on hidden_states.float()): the norm keeps "
        "the fp32 input and the scale's product the fp32 normalised tensor.",
    )
    post_norms: bool = Field(default=False, description="The post-sublayer norms likewise (Mochi norm2 / norm4: fp32 input and normalised x gate).")
    cross_norm: bool = Field(default=False, description="The cross-attention norm runs on an fp32 copy and is cast back (Wan norm2).")
    mlp_residual: bool = Field(
        default=False, description="The MLP's gated residual add runs in fp32: the gate's product keeps an fp32 copy of the MLP output (Wan)."
    )
    qk_norms: EagerQKNorm = Field(
        default="none",
        description="Which eager diffusers RMSNorm the block's q/k norms are (every attention of the block, both streams). 'none': "
        "torch.nn.RMSNorm (F.rms_norm, one fused CUDA kernel, _fused_rms_norm: its input, scale and rstd) or a LayerNorm "
        "(Wan, LTX, CogVideoX). 'rms_norm': diffusers RMSNorm with a bf16 scale (HunyuanVideo 1 and 1.5, Cosmos-Predict2): "
        "hidden_states.to(float32).pow(2) keeps an fp32 copy of its input and the scale's product the bf16 cast-back of the "
        "normalised tensor. 'mochi_rms_norm': MochiRMSNorm, which multiplies its scale in fp32: the fp32 copy and the fp32 "
        "normalised tensor (diffusers 0.42.1 models/normalization.py RMSNorm.forward, MochiRMSNorm.forward).",
    )
    pre_norm_fp32_copy: bool = Field(
        default=False,
        description="The pre-sublayer norms are diffusers RMSNorm without a scale on an activation-dtype input (LTX norm1 / "
        "norm2): each keeps an fp32 copy of its input (hidden_states.to(float32).pow(2)) besides its input and rstd.",
    )
    concat_copies: SizeOrZero = Field(
        default=0,
        description="Copies of the block's d-wide input the class makes by concatenating the text and visual tokens again "
        "before a matmul (HunyuanVideo single blocks: 1, before q/k/v).",
    )


def _upcasts_field():
    return Field(default_factory=Fp32Upcasts, description="fp32 computation of the model's diffusers class (saved activations only).")


class CrossBlock(Spec):
    """Self-attention over visual tokens, cross-attention to the text tokens (ungated, unmodulated as in
    Wan and LTX, or modulated and gated as in Cosmos), then the MLP; the text tokens only feed the
    cross-attention's keys and values (projected from the caption projection's width, or straight from the
    text features when the model has no caption projection: Cosmos)."""

    kind: Literal["cross"] = "cross"
    count: Depth = Field(description="Blocks of this kind in a row.")
    norm: NormKind = Field(description="Norm before self-attention and before the MLP: " + NORM_KINDS_HELP + ".")
    cross_norm: NormKind = Field(default="none", description="Norm before the cross-attention (Wan: layer_affine; LTX: none).")
    attention: AttentionOptions = Field(default_factory=AttentionOptions, description="Self-attention projections.")
    cross_attention: AttentionOptions = Field(default_factory=AttentionOptions, description="Cross-attention projections.")
    cross_modulated: bool = Field(
        default=False,
        description="The cross-attention has its own modulated norm and gate, like the self-attention and the MLP "
        "(Cosmos: norm2 of CosmosTransformerBlock, 9 vectors a block); false: ungated and unmodulated (Wan, LTX).",
    )
    mlp: MLPOptions
    modulation: Modulation
    diffusers_fp32: Fp32Upcasts = _upcasts_field()


class JointBlock(Spec):
    """MM-DiT dual stream: each modality its own norms, q/k/v, out-projection, MLP and modulation, one
    full attention over visual + text tokens (HunyuanVideo's double-stream blocks, Mochi's blocks)."""

    kind: Literal["joint"] = "joint"
    count: Depth = Field(description="Blocks of this kind in a row.")
    norm: NormKind = Field(description="Norm before attention and before the MLP, each stream: " + NORM_KINDS_HELP + ".")
    post_norm: NormKind = Field(
        default="none",
        description="Norm of each sublayer's output before its gate and the residual add, each stream ('sandwich' norm; "
        "Mochi: rms, x + tanh(gate) * RMSNorm(branch), genmoai/mochi residual_tanh_gated_rmsnorm, diffusers "
        "MochiTransformerBlock norm2/norm4): " + NORM_KINDS_HELP + ".",
    )
    attention: AttentionOptions = Field(default_factory=AttentionOptions, description="Projections, the same options for both streams.")
    mlp: MLPOptions = Field(description="The visual stream's MLP (and the text stream's unless text_mlp is given).")
    text_mlp: Optional[MLPOptions] = Field(
        default=None, description="The text stream's own MLP when it differs (Mochi: SwiGLU of hidden 4096 on the 1536-wide text, no bias)."
    )
    modulation: Modulation
    updates_text: bool = Field(
        default=True,
        description="False: the text tokens only feed the joint attention (their q, k, v are projected) and leave the "
        "block unchanged: no text out-projection, no text MLP (diffusers' context_pre_only; Mochi's last block).",
    )
    text_weights: Literal["own", "visual"] = Field(
        default="own",
        description="'own': the text stream has its own norms, projections and MLP; 'visual': the text tokens run through "
        "the visual stream's weights, each stream keeping its own modulation vectors (asymm_dit's text_stream: shared).",
    )
    diffusers_fp32: Fp32Upcasts = _upcasts_field()

    @model_validator(mode="after")
    def _check_text_stream(self) -> "JointBlock":
        if self.text_weights == "visual" and (self.text_mlp is not None or not self.updates_text):
            raise ValueError("a text stream on the visual weights has no MLP of its own and is updated by every block")
        if self.text_mlp is not None and not self.updates_text:
            raise ValueError("a block that does not update the text stream has no text MLP (leave text_mlp out)")
        return self

    @property
    def text_stream_mlp(self) -> MLPOptions:
        """The MLP the text stream runs through."""
        return self.text_mlp or self.mlp


class SingleBlock(Spec):
    """One stream over the concatenated visual + text tokens with shared weights."""

    kind: Literal["single"] = "single"
    count: Depth = Field(description="Blocks of this kind in a row.")
    parallel: bool = Field(
        description="True: attention and MLP side by side from one norm, their outputs concatenated into one "
        "out-projection (HunyuanVideo single blocks, no separate attention out-projection); false: attention "
        "then MLP, each with its norm (CogVideoX)."
    )
    norm: NormKind = Field(description="Norm(s) of the block: " + NORM_KINDS_HELP + ".")
    attention: AttentionOptions = Field(default_factory=AttentionOptions, description="Projections.")
    mlp: MLPOptions
    modulation: Modulation = Field(description="CogVideoX's expert adaLN: 12 vectors (6 for video, 6 for text).")
    diffusers_fp32: Fp32Upcasts = _upcasts_field()


BlockGroup = Annotated[Union[CrossBlock, JointBlock, SingleBlock], Field(discriminator="kind")]


class Conditioning(Spec):
    """The per-sample conditioning vector c: timestep MLP (+ guidance MLP) (+ pooled-caption MLP)."""

    width: Size = Field(description="Width of c (Wan, LTX, HunyuanVideo: the model width; CogVideoX: 512).")
    timestep_freq_dim: Size = Field(description="Sinusoidal timestep features into the timestep MLP (256; CogVideoX: the model width).")
    timestep_bias: bool = Field(default=True, description="Biases in the timestep MLP (Cosmos: none).")
    timestep_outputs: Size = Field(
        default=1,
        description="The timestep MLP's second layer emits this many width-wide vectors (Cosmos: 3, the shared part of "
        "every block's adaLN-LoRA modulation, diffusers CosmosTimestepEmbedding linear_2: width -> 3 x width); 1: c itself.",
    )
    timestep_norm: NormKind = Field(
        default="none",
        description="Norm of the sinusoidal features handed to the blocks' modulation as their input (Cosmos: rms_affine, "
        "CosmosEmbedding.norm; its width is then timestep_freq_dim, which must equal width): " + NORM_KINDS_HELP + ".",
    )
    guidance_embed: bool = Field(default=False, description="A second timestep-style MLP for the guidance scale (HunyuanVideo, guidance-distilled).")
    pooled_text_dim: SizeOrZero = Field(
        default=0, description="Width of a pooled caption vector projected by a 2-layer MLP and added to c (HunyuanVideo CLIP-L: 768; 0: none)."
    )
    shared_modulation_outputs: SizeOrZero = Field(
        default=0, description="Vectors of one projection c -> k x width shared by all blocks (Wan, LTX: 6; 0: none)."
    )
    caption_pool_heads: SizeOrZero = Field(
        default=0,
        description="Heads of an attention pooling of the caption features added to c (Mochi: 8; genmoai/mochi "
        "AttentionPool: the masked mean of the caption queries keys/values over [mean; caption], projections "
        "to_kv features -> 2 x features, to_q features -> features, to_out features -> width, all with bias; 0: none).",
    )


class TokenRefiner(Spec):
    """HunyuanVideo's token refiner: self-attention blocks over the projected text tokens, gated by their own
    conditioning (timestep MLP + MLP of the mean text feature); width = the model width."""

    num_layers: Depth = Field(description="Refiner blocks (HunyuanVideo: 2).")
    mlp_hidden: Size = Field(description="Refiner MLP hidden width (HunyuanVideo: 4 x width, SiLU).")
    timestep_freq_dim: Size = Field(default=256, description="Sinusoidal timestep features of its own timestep MLP.")


class ContextEmbedder(Spec):
    """A further group of context tokens that join the caption's in the blocks, each group from its own
    encoder through its own projection (HunyuanVideo 1.5: ByT5 glyph tokens and SigLIP image tokens,
    diffusers HunyuanVideo15ByT5TextProjection / HunyuanVideo15ImageProjection; Step-Video: Hunyuan-CLIP's
    token sequence, StepVideoModel clip_projection). The projection: an optional norm of the features, then
    linears through ``hidden`` to the text width (activations between them), then an optional norm."""

    name: str = Field(description="What the tokens are, e.g. 'byt5-glyph'.")
    feature_dim: Size = Field(description="Width of the encoder's features (ByT5-small: 1472; SigLIP: 1152; Hunyuan-CLIP: 1024).")
    tokens: SizeOrZero = Field(
        description="Tokens a sample carries into the blocks (padded length; 0: the projection is held but not run, as "
        "HunyuanVideo 1.5's image projection in text-to-video training)."
    )
    norm_in: NormKind = Field(default="none", description="Norm of the features before the first linear: " + NORM_KINDS_HELP + ".")
    hidden: tuple[Size, ...] = Field(default=(), description="Widths of the hidden layers (ByT5 glyph: 2048, 2048; image: 1152; none: one linear).")
    norm_out: NormKind = Field(default="none", description="Norm after the last linear: " + NORM_KINDS_HELP + ".")
    bias: bool = Field(default=True, description="Biases on the linears.")


class FinalLayer(Spec):
    """Norm(s), final modulation and the projection back to latent patches."""

    norms: tuple[NormKind, ...] = Field(default=("layer",), description="Norms applied in order (CogVideoX: two affine LayerNorms).")
    modulation: Literal["per_block", "shared_table", "low_rank"] = Field(
        description="per_block: a linear c -> outputs x width (HunyuanVideo, CogVideoX); shared_table: a learned table added to c "
        "(Wan, LTX); low_rank: c -> rank -> outputs x width without biases (Cosmos CosmosAdaLayerNorm)."
    )
    modulation_outputs: Size = Field(default=2, description="Vectors (shift and scale: 2).")
    modulation_rank: SizeOrZero = Field(default=0, description="Rank of a low_rank final modulation (Cosmos: 256).")
    bias: bool = Field(default=True, description="Bias of the projection to latent patches (Cosmos: none).")
    diffusers_fp32: bool = Field(
        default=False, description="The model's diffusers class runs the final norm on an fp32 copy and modulates in fp32 (Wan norm_out)."
    )

    @model_validator(mode="after")
    def _rank_for_low_rank(self) -> "FinalLayer":
        if (self.modulation == "low_rank") != (self.modulation_rank > 0):
            raise ValueError("modulation_rank is given with, and only with, low_rank modulation")
        return self


class VideoDiTSpec(Spec):
    """A video DiT built from the block vocabulary (Wan 2.1, HunyuanVideo, CogVideoX, LTX-Video, ...)."""

    family: Literal["video_dit"] = "video_dit"
    num_heads: Size = Field(description="Attention heads (the width is heads x head_dim).")
    head_dim: Size = Field(description="Width of one head.")
    patch_size: Size = Field(description="Spatial patch side in latent pixels.")
    patch_size_t: Size = Field(default=1, description="Temporal patch length in latent frames.")
    in_channels: Size = Field(description="Latent channels in.")
    out_channels: Size = Field(description="Latent channels predicted.")
    patch_bias: bool = Field(default=True, description="Bias of the patch embedding.")
    hidden_width: Optional[Size] = Field(
        default=None,
        description="Width of the visual tokens between blocks when it differs from the attention width heads x head_dim "
        "(joint blocks only; a legacy asymm_dit visual_width; None: heads x head_dim, every published model).",
    )
    text_width: Optional[Size] = Field(
        default=None,
        description="Width of the text tokens after the caption projection when it differs from the visual width (joint "
        "blocks only; Mochi: 1536 against 3072, genmoai/mochi dim_y; None: the visual width).",
    )
    text_feature_dim: Size = Field(description="Width of the text encoder's features (T5-XXL, UMT5-XXL, Llama-3-8B: 4096).")
    max_text_tokens: Size = Field(description="Text tokens a sample by default (the padded caption length the model is trained with).")
    embeds_padded_caption: bool = Field(
        default=False,
        description="True: the text encoder, the caption projection and the caption pooling run on the padded caption of "
        "max_text_tokens rows and only the valid text tokens enter the blocks (Mochi: padding dropped after the projection, "
        "shared/reference/mochi-architecture.md); false: every part runs on the text tokens a sample carries.",
    )
    caption_projection: Literal["linear", "mlp", "none"] = Field(
        description="Text features -> width: one linear (CogVideoX, HunyuanVideo's proj_in), a 2-layer MLP (Wan, LTX), or "
        "none: the cross-attention projects its keys and values straight from the text features (Cosmos; cross blocks only)."
    )
    context_embedders: tuple[ContextEmbedder, ...] = Field(
        default=(), description="Further context token groups joined to the caption's in the blocks (HunyuanVideo 1.5, Step-Video)."
    )
    context_type_embeddings: SizeOrZero = Field(
        default=0,
        description="Rows of a learned embedding table adding a type vector to each context token by its source "
        "(HunyuanVideo 1.5 cond_type_embed: 3, LLM / ByT5 / image); 0: none.",
    )
    condition_embed_channels: SizeOrZero = Field(
        default=0,
        description="Channels a latent pixel of a conditioning input has that a second patch embedding adds to the visual "
        "tokens (Open-Sora 2.0 cond_in: 16 latent + 1 mask channels, times the patch: 68 -> width); 0: none.",
    )
    token_refiner: Optional[TokenRefiner] = Field(default=None, description="Text-token refiner after the caption projection (HunyuanVideo).")
    conditioning: Conditioning
    rope: Literal["none", "fixed_3d", "learned_3d"] = Field(
        description="3D rotary embedding of the visual q/k: 'fixed_3d' computed, no parameters, element-wise; 'learned_3d' "
        "learned frequencies (3, heads, head_dim/2) mixing the t, h, w positions, the angles a matmul of positions (N, 3) "
        "by (3, heads x head_dim/2) (Mochi, genmoai/mochi; diffusers MochiTransformer3DModel pos_frequencies); or none "
        "(absolute sin-cos)."
    )
    blocks: tuple[BlockGroup, ...] = Field(min_length=1, description="Block groups in order.")
    final_layer: FinalLayer

    @model_validator(mode="after")
    def _check_shapes(self) -> "VideoDiTSpec":
        if self.rope != "none" and self.head_dim % 2:
            raise ValueError("head_dim must be even for rotary embeddings")
        if self.conditioning.caption_pool_heads and self.text_feature_dim % self.conditioning.caption_pool_heads:
            raise ValueError("text_feature_dim must divide into conditioning.caption_pool_heads")
        if self.caption_projection == "none" and (
            self.token_refiner is not None or self.context_embedders or self.text_width is not None
            or any(group.kind != "cross" for group in self.blocks)
        ):
            raise ValueError("caption_projection 'none' needs cross blocks only, no token refiner, no context embedders and no text_width")
        if self.conditioning.timestep_norm != "none" and self.conditioning.timestep_freq_dim != self.conditioning.width:
            raise ValueError("a timestep_norm hands the sinusoidal features to the blocks: timestep_freq_dim must equal conditioning.width")
        widths_differ = self.width != self.attn_width or (self.text_width or self.width) != self.width
        if widths_differ and (self.token_refiner is not None or any(group.kind != "joint" for group in self.blocks)):
            raise ValueError("a hidden_width other than heads x head_dim, or a text_width other than the visual width, needs joint "
                             "blocks only and no token refiner")
        if self.text_stream_width != self.width and any(isinstance(group, JointBlock) and group.text_weights == "visual" for group in self.blocks):
            raise ValueError("a text stream on the visual weights needs text_width equal to the visual width")
        return self

    @property
    def attn_width(self) -> int:
        """Attention width heads x head_dim."""
        return self.num_heads * self.head_dim

    @property
    def width(self) -> int:
        """Width d of the visual tokens between blocks (heads x head_dim unless hidden_width is given)."""
        return self.hidden_width or self.attn_width

    @property
    def text_stream_width(self) -> int:
        """Width of the text tokens in the blocks (the visual width unless text_width is given; the text features'
        width when there is no caption projection)."""
        if self.caption_projection == "none":
            return self.text_feature_dim
        return self.text_width or self.width

    @property
    def context_tokens(self) -> int:
        """Tokens the context embedders add to the caption's in every block."""
        return sum(group.tokens for group in self.context_embedders)

    @property
    def num_layers(self) -> int:
        """Blocks of every group together."""
        return sum(group.count for group in self.blocks)

    @property
    def patch_pixels(self) -> int:
        """Latent positions one token covers, t x h x w."""
        return self.patch_size_t * self.patch_size**2

"""Independent implementations on PyTorch's meta device: diffusers' Mochi and transformers' T5.

They hold no weights and run no arithmetic, so exact parameter and FLOP counts of the full-size
models take about a second. FLOPs come from torch.utils.flop_counter.FlopCounterMode (2 per MAC).
"""
from __future__ import annotations

import contextlib

import diffusers
import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

from estimators.specs.asymm_dit import AsymmDiTSpec, asymm_to_video_dit
from estimators.specs.dit_blocks import VideoDiTSpec
from estimators.specs.text_encoders import T5EncoderSpec


@contextlib.contextmanager
def meta_counting():
    """Meta tensors need data-independent nonzero() and no autocast (diffusers' RoPE autocasts)."""
    import torch.fx.experimental._config as fx_config

    saved_flag, saved_autocast = fx_config.meta_nonzero_assume_all_nonzero, torch.autocast
    fx_config.meta_nonzero_assume_all_nonzero = True
    torch.autocast = lambda *args, **kwargs: contextlib.nullcontext()
    try:
        yield
    finally:
        fx_config.meta_nonzero_assume_all_nonzero = saved_flag
        torch.autocast = saved_autocast


def numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


def diffusers_mochi_dit(**config):
    with torch.device("meta"):
        return diffusers.MochiTransformer3DModel(**config)


def diffusers_mochi_vae(**config):
    with torch.device("meta"):
        return diffusers.AutoencoderKLMochi(**config)


def mochi_dit_forward_flops(model, latent_frames: int, latent_height: int, latent_width: int, text_tokens: int) -> int:
    """FlopCounterMode's count of one forward, batch 1, all text tokens valid."""
    cfg = model.config
    with meta_counting():
        x = torch.empty(1, cfg.in_channels, latent_frames, latent_height, latent_width, device="meta")
        text = torch.empty(1, text_tokens, cfg.text_embed_dim, device="meta")
        mask = torch.ones(1, text_tokens, dtype=torch.long, device="meta")
        counter = FlopCounterMode(display=False)
        with counter:
            model(hidden_states=x, encoder_hidden_states=text, timestep=torch.empty(1, device="meta"),
                  encoder_attention_mask=mask, return_dict=False)
    return counter.get_total_flops()


def count_flops(fn) -> int:
    with meta_counting():
        counter = FlopCounterMode(display=False)
        with counter:
            fn()
    return counter.get_total_flops()


def t5_encoder(spec: T5EncoderSpec):
    """transformers' T5EncoderModel with the same hyper-parameters (v1.1: gated GELU, untied)."""
    config = transformers.T5Config(
        d_model=spec.d_model, d_ff=spec.d_ff, num_layers=spec.num_layers, num_heads=spec.num_heads, d_kv=spec.d_kv,
        vocab_size=spec.vocab_size, relative_attention_num_buckets=spec.relative_attention_buckets,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
    )
    with torch.device("meta"):
        return transformers.T5EncoderModel(config)


# Mochi 1's layout in the legacy asymm_dit description (genmoai/mochi; mochi-architecture.md): the widths,
# depth and sizes below are replaced by those of the diffusers config a test builds.
MOCHI_LAYOUT = AsymmDiTSpec(
    num_layers=48, num_heads=24, head_dim=128, visual_width=3072, text_width=1536, patch_size=2, in_channels=12, out_channels=12,
    text_feature_dim=4096, max_text_tokens=256, timestep_freq_dim=256, cond_width=3072, mlp_activation="swiglu", mlp_ratio=4.0,
    mlp_multiple_of=256, modulation_outputs=4, text_modulation_outputs=4, last_block_text_modulation_outputs=1,
    last_block_updates_text=False, qkv_bias=False, out_bias=True, mlp_bias=False, qk_norm=True, attn_pool_heads=8,
    learned_rope=True, final_modulation_outputs=2,
)


def dit_spec_like_diffusers(model) -> VideoDiTSpec:
    """Our spec for a diffusers MochiTransformer3DModel config (diffusers: d_x = heads x head_dim,
    MLP hidden = floor(8d/3) with no rounding, 8 pooling heads), through the asymm_dit translation."""
    cfg = model.config
    return asymm_to_video_dit(MOCHI_LAYOUT.model_copy(update=dict(
        num_layers=cfg.num_layers, num_heads=cfg.num_attention_heads, head_dim=cfg.attention_head_dim,
        visual_width=cfg.num_attention_heads * cfg.attention_head_dim, cond_width=cfg.num_attention_heads * cfg.attention_head_dim,
        text_width=cfg.pooled_projection_dim, in_channels=cfg.in_channels, out_channels=cfg.out_channels or cfg.in_channels,
        text_feature_dim=cfg.text_embed_dim, max_text_tokens=cfg.max_sequence_length, timestep_freq_dim=cfg.time_embed_dim,
        patch_size=cfg.patch_size, mlp_multiple_of=1,
    )))


# Published diffusers transformer configs (the keys that differ from the class defaults are given;
# the class defaults of diffusers 0.42.1 equal the remaining keys of each config.json).
# Wan-AI/Wan2.1-T2V-14B-Diffusers transformer/config.json
WAN_14B = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=16, out_channels=16,
               text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True,
               qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=None, added_kv_proj_dim=None, rope_max_seq_len=1024)
# Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json
WAN_1_3B = {**WAN_14B, "num_attention_heads": 12, "ffn_dim": 8960, "num_layers": 30}
# hunyuanvideo-community/HunyuanVideo transformer/config.json
HUNYUAN_13B = dict(in_channels=16, out_channels=16, num_attention_heads=24, attention_head_dim=128, num_layers=20,
                   num_single_layers=40, num_refiner_layers=2, mlp_ratio=4.0, patch_size=2, patch_size_t=1,
                   qk_norm="rms_norm", guidance_embeds=True, text_embed_dim=4096, pooled_projection_dim=768,
                   rope_theta=256.0, rope_axes_dim=(16, 56, 56))
# THUDM/CogVideoX-5b transformer/config.json
COGVIDEOX_5B = dict(num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16, time_embed_dim=512,
                    text_embed_dim=4096, num_layers=42, sample_width=90, sample_height=60, sample_frames=49,
                    patch_size=2, max_text_seq_length=226, use_rotary_positional_embeddings=True)
# THUDM/CogVideoX-2b transformer/config.json
COGVIDEOX_2B = {**COGVIDEOX_5B, "num_attention_heads": 30, "num_layers": 30, "use_rotary_positional_embeddings": False}
# Lightricks/LTX-Video transformer/config.json
LTX_2B = dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32, attention_head_dim=64,
              cross_attention_dim=2048, num_layers=28, qk_norm="rms_norm_across_heads", norm_elementwise_affine=False,
              caption_channels=4096, attention_bias=True, attention_out_bias=True)


def meta_model(cls_name: str, config: dict):
    """A diffusers class built on the meta device (no weights, no arithmetic)."""
    with torch.device("meta"):
        return getattr(diffusers, cls_name)(**config)


def _meta(*shape):
    return torch.empty(*shape, device="meta")


def video_dit_forward_flops(model, latent_frames: int, latent_height: int, latent_width: int, text_tokens: int) -> int:
    """FlopCounterMode's count of one conditional forward at batch 1 of a diffusers video transformer,
    given the latent clip (channels from the config) and ``text_tokens`` caption features, all valid."""
    cfg, name = model.config, type(model).__name__
    text = _meta(1, text_tokens, cfg.get("text_dim") or cfg.get("text_embed_dim") or cfg.get("caption_channels"))
    step = _meta(1)
    mask = torch.ones(1, text_tokens, device="meta")
    latent = (latent_frames, latent_height, latent_width)
    if name == "WanTransformer3DModel":
        call = lambda: model(hidden_states=_meta(1, cfg.in_channels, *latent), timestep=step, encoder_hidden_states=text, return_dict=False)  # noqa: E731
    elif name == "HunyuanVideoTransformer3DModel":
        call = lambda: model(hidden_states=_meta(1, cfg.in_channels, *latent), timestep=step, encoder_hidden_states=text,  # noqa: E731
                             encoder_attention_mask=mask, pooled_projections=_meta(1, cfg.pooled_projection_dim), guidance=step, return_dict=False)
    elif name == "CogVideoXTransformer3DModel":
        # frames first: (batch, frames, channels, height, width)
        call = lambda: model(hidden_states=_meta(1, latent_frames, cfg.in_channels, latent_height, latent_width),  # noqa: E731
                             encoder_hidden_states=text, timestep=step, return_dict=False)
    elif name == "LTXVideoTransformer3DModel":
        # LTX takes the latent already flattened to tokens (patch 1x1x1)
        tokens = latent_frames * latent_height * latent_width
        call = lambda: model(hidden_states=_meta(1, tokens, cfg.in_channels), encoder_hidden_states=text, timestep=step,  # noqa: E731
                             encoder_attention_mask=mask, num_frames=latent_frames, height=latent_height, width=latent_width, return_dict=False)
    else:
        raise ValueError(name)
    return count_flops(call)


def meta_free(cls_name: str, config: dict):
    """A small diffusers class with real CPU weights (for measuring what autograd saves)."""
    torch.manual_seed(0)
    return getattr(diffusers, cls_name)(**config)

"""Independent implementations on PyTorch's meta device: diffusers' Mochi and transformers' T5.

They hold no weights and run no arithmetic, so exact parameter and FLOP counts of the full-size
models take about a second. FLOPs come from torch.utils.flop_counter.FlopCounterMode (2 per MAC).
"""
from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from estimators.specs.models import AsymmDiTSpec  # noqa: E402
from estimators.specs.text_encoders import T5EncoderSpec  # noqa: E402


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


def dit_spec_like_diffusers(base: AsymmDiTSpec, model) -> AsymmDiTSpec:
    """Our spec for a diffusers MochiTransformer3DModel config (diffusers: d_x = heads x head_dim,
    MLP hidden = floor(8d/3) with no rounding, 8 pooling heads)."""
    cfg = model.config
    return base.model_copy(update=dict(
        num_layers=cfg.num_layers, num_heads=cfg.num_attention_heads, head_dim=cfg.attention_head_dim,
        visual_width=cfg.num_attention_heads * cfg.attention_head_dim, cond_width=cfg.num_attention_heads * cfg.attention_head_dim,
        text_width=cfg.pooled_projection_dim, in_channels=cfg.in_channels, out_channels=cfg.out_channels or cfg.in_channels,
        text_feature_dim=cfg.text_embed_dim, max_text_tokens=cfg.max_sequence_length, timestep_freq_dim=cfg.time_embed_dim,
        patch_size=cfg.patch_size, mlp_multiple_of=1,
    ))

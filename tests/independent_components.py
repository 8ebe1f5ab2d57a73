"""Independent implementations of the frozen components on PyTorch's meta device (transformers' text
encoders, diffusers' video VAEs), built from Hugging Face config dicts, and the FLOPs of what their
encode / decode execute. FLOPs come from torch.utils.flop_counter.FlopCounterMode (2 per MAC).
"""
from __future__ import annotations

import diffusers
import torch
import transformers

from tests.independent import count_flops, numel

TEXT_MODELS = {
    "t5": (transformers.T5Config, transformers.T5EncoderModel),
    "umt5": (transformers.UMT5Config, transformers.UMT5EncoderModel),
    "clip_text": (transformers.CLIPTextConfig, transformers.CLIPTextModel),
    "llama": (transformers.LlamaConfig, transformers.LlamaModel),
    "qwen2_5_vl_text": (transformers.Qwen2_5_VLTextConfig, transformers.Qwen2_5_VLTextModel),
    "bert": (transformers.BertConfig, transformers.BertModel),
}
VAE_MODELS = {
    "wan": diffusers.AutoencoderKLWan,
    "hunyuanvideo": diffusers.AutoencoderKLHunyuanVideo,
    "hunyuanvideo15": diffusers.AutoencoderKLHunyuanVideo15,
    "cogvideox": diffusers.AutoencoderKLCogVideoX,
    "ltx_video": diffusers.AutoencoderKLLTXVideo,
}


def text_model(kind: str, config: dict):
    """A transformers encoder of ``kind`` from its config.json values, on the meta device."""
    config_cls, model_cls = TEXT_MODELS[kind]
    with torch.device("meta"):
        return model_cls(config_cls(**config))


def text_forward_flops(model, tokens: int) -> int:
    """One forward of a batch-1 prompt of ``tokens`` token ids."""
    ids = torch.zeros(1, tokens, dtype=torch.long, device="meta")
    return count_flops(lambda: model(input_ids=ids))


def vae_model(kind: str, config: dict | None = None):
    """A diffusers VAE of ``kind`` from its config.json values (spatial tiling off), on the meta device."""
    with torch.device("meta"):
        model = VAE_MODELS[kind](**(config or {}))
    model.use_tiling = False
    return model


def vae_part_params(model) -> tuple[int, int]:
    """(encoder + quant_conv, post_quant_conv + decoder) parameters."""
    extra = {name: numel(getattr(model, name)) if getattr(model, name, None) is not None else 0 for name in ("quant_conv", "post_quant_conv")}
    return numel(model.encoder) + extra["quant_conv"], numel(model.decoder) + extra["post_quant_conv"]


def vae_encode_flops(model, frames: int, height: int, width: int) -> int:
    pixels = torch.empty(1, model.config.in_channels, frames, height, width, device="meta")
    return count_flops(lambda: model.encode(pixels))


def vae_decode_flops(model, latent_frames: int, latent_height: int, latent_width: int) -> int:
    latents = torch.empty(1, model.config.latent_channels if "latent_channels" in model.config else model.config.z_dim,
                          latent_frames, latent_height, latent_width, device="meta")
    return count_flops(lambda: model.decode(latents))

"""Frozen text encoders and video VAEs at full size, to the unit, against transformers / diffusers on the
meta device (tests/independent_components.py). Configs below are the published config.json values;
our counts come from the bundled component files (estimators/data/components/*.yaml).

Pinned totals are the library counts measured this way (transformers 5.24, diffusers 0.42.1), so a
change in either side shows up as a diff of a named number.
"""
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

import estimators
from estimators.counts.text_encoders import text_encoder_flops, text_encoder_params, text_encoder_tokens
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from estimators.specs.text_encoders import TextEncoderSpec
from estimators.specs.vaes import VAESpec
from tests import independent_components as ind

COMPONENTS = Path(estimators.__file__).parent / "data" / "components"

# google/umt5-xxl config.json (encoder part)
UMT5_XXL = {"d_model": 4096, "d_ff": 10240, "num_layers": 24, "num_heads": 64, "d_kv": 64, "vocab_size": 256384,
                "relative_attention_num_buckets": 32, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
# openai/clip-vit-large-patch14 config.json, text_config
CLIP_L_TEXT = {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 768}
# hunyuanvideo-community/HunyuanVideo text_encoder/config.json (llava-llama-3-8b-v1_1's language model)
LLAVA_LLAMA_3_8B = {"vocab_size": 128320, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                        "num_attention_heads": 32, "num_key_value_heads": 8, "rope_theta": 500000.0,
                        "max_position_embeddings": 8192, "tie_word_embeddings": False}

UMT5_XXL_PARAMS = 5_680_910_336
CLIP_L_TEXT_PARAMS = 123_060_480
LLAVA_LLAMA_3_8B_PARAMS = 7_505_186_816

# The VAE configs of Wan2.1-T2V-14B-Diffusers, HunyuanVideo, CogVideoX-2b/5b and LTX-Video 0.9.0 are
# diffusers' defaults for these classes; written out here so a change of defaults cannot pass silently.
VAE_CONFIGS = {
    "wan": {"base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
                "temperal_downsample": [False, True, True]},
    "hunyuanvideo": {"latent_channels": 16, "block_out_channels": (128, 256, 512, 512), "layers_per_block": 2,
                         "spatial_compression_ratio": 8, "temporal_compression_ratio": 4, "mid_block_add_attention": True},
    "cogvideox": {"latent_channels": 16, "block_out_channels": (128, 256, 256, 512), "layers_per_block": 3,
                      "temporal_compression_ratio": 4, "use_quant_conv": False, "use_post_quant_conv": False},
    "ltx_video": {"latent_channels": 128, "patch_size": 4, "patch_size_t": 1, "block_out_channels": (128, 256, 512, 512),
                      "layers_per_block": (4, 3, 3, 3, 4), "spatio_temporal_scaling": (True, True, True, False),
                      "decoder_block_out_channels": (128, 256, 512, 512), "decoder_layers_per_block": (4, 3, 3, 3, 4),
                      "decoder_spatio_temporal_scaling": (True, True, True, False), "timestep_conditioning": False},
}
# (component file, diffusers class, default clip frames x height x width, latent shape, pinned params
# (encoder + quant_conv, post_quant_conv + decoder), pinned FLOPs (encode, decode))
VAE_CASES = [
    ("wan-vae", "wan", (81, 480, 832), (21, 60, 104), (53_596_928, 73_295_603), (163_749_702_205_440, 275_352_205_639_680)),
    ("hunyuanvideo-vae", "hunyuanvideo", (129, 720, 1280), (33, 90, 160), (100_342_464, 146_136_339),
     (1_638_661_216_665_600, 2_999_972_184_883_200)),
    ("cogvideox-vae", "cogvideox", (49, 480, 720), (13, 60, 90), (92_215_456, 123_368_451), (148_964_681_318_400, 315_027_947_520_000)),
    ("ltx-video-vae", "ltx_video", (161, 512, 704), (21, 16, 22), (180_404_353, 238_789_296), (47_360_972_324_864, 50_524_867_002_368)),
]


def component(name: str):
    data = yaml.safe_load((COMPONENTS / f"{name}.yaml").read_text())
    try:
        return TypeAdapter(VAESpec).validate_python(data)
    except ValueError:
        return TypeAdapter(TextEncoderSpec).validate_python(data)


def total(parts: dict) -> int:
    return sum(parts.values())


@pytest.mark.parametrize(
    "name, kind, config, pinned, dit_tokens",
    [
        ("umt5-xxl", "umt5", UMT5_XXL, UMT5_XXL_PARAMS, 512),  # Wan 2.1: 512 text tokens
        ("clip-l-text", "clip_text", CLIP_L_TEXT, CLIP_L_TEXT_PARAMS, 256),  # pooled; always 77 positions
    ],
)
def test_encoder_only_text_models_exact(name, kind, config, pinned, dit_tokens):
    spec = component(name)
    model = ind.text_model(kind, config)
    assert total(text_encoder_params(spec)) == ind.numel(model) == pinned
    tokens = text_encoder_tokens(spec, dit_tokens)
    assert ind.text_forward_flops(model, tokens) == total(text_encoder_flops(spec, tokens))


def test_llava_llama_text_encoder_exact():
    spec = component("llava-llama-3-8b-text")
    assert text_encoder_tokens(spec, 256) == 95 + 256  # HunyuanVideoPipeline: crop_start 95 + max_sequence_length
    full = ind.text_model("llama", LLAVA_LLAMA_3_8B)
    assert total(text_encoder_params(spec)) == ind.numel(full) == LLAVA_LLAMA_3_8B_PARAMS
    # the DiT reads hidden_states[-3], the output of layer 30: a 30-layer LlamaModel runs exactly that
    # (its final RMSNorm is not a counted operation)
    run = ind.text_model("llama", {**LLAVA_LLAMA_3_8B, "num_hidden_layers": spec.layers_run})
    assert spec.layers_run == 30
    assert ind.text_forward_flops(run, 351) == total(text_encoder_flops(spec, 351))
    all_layers = spec.model_copy(update={"skip_last_layers": 0})
    assert ind.text_forward_flops(full, 351) == total(text_encoder_flops(all_layers, 351))


@pytest.mark.parametrize("name, kind, clip, latent, params, flops", VAE_CASES)
def test_vae_exact_at_default_clip(name, kind, clip, latent, params, flops):
    spec = component(name)
    model = ind.vae_model(kind, VAE_CONFIGS[kind])
    assert (total(vae_encoder_params(spec)), total(vae_decoder_params(spec))) == ind.vae_part_params(model) == params
    t, s = spec.temporal_compression, spec.spatial_compression
    assert latent == ((clip[0] - 1) // t + 1, clip[1] // s, clip[2] // s)
    counted = (ind.vae_encode_flops(model, *clip), ind.vae_decode_flops(model, *latent))
    assert (total(vae_encoder_flops(spec, *clip)), total(vae_decoder_flops(spec, *latent))) == counted == flops

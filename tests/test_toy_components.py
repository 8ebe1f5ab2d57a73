"""Toy-size frozen components: counts derived by hand in comments, and toy configs of every VAE family
against diffusers on the meta device (clips chosen to exercise chunking, batching and tiling)."""
from types import SimpleNamespace

import pytest

from estimators.counts.geometry import clip_geometry
from estimators.counts.text_encoders import text_encoder_flops, text_encoder_params, text_encoder_tokens, text_encoder_working_elements
from estimators.counts.vae_tally import Tally
from estimators.counts.vae_wan import _residual as wan_residual
from estimators.counts.vaes import (
    vae_decoder_flops,
    vae_decoder_params,
    vae_encoder_flops,
    vae_encoder_params,
    vae_encoder_working_elements,
)
from estimators.errors import PlanInputError
from estimators.specs.text_encoders import (
    CLIPTextEncoderSpec,
    DecoderLLMEncoderSpec,
    T5EncoderSpec,
)
from estimators.specs.vaes import (
    CogVideoXVAESpec,
    HunyuanVideoVAESpec,
    LTXVideoVAESpec,
    WanVAESpec,
)

TOY_T5 = T5EncoderSpec(num_layers=2, d_model=8, d_ff=16, num_heads=2, d_kv=4, vocab_size=10, relative_attention_buckets=4)
TOY_CLIP = CLIPTextEncoderSpec(num_layers=1, width=8, num_heads=2, mlp_dim=16, vocab_size=10, max_positions=5)
TOY_LLM = DecoderLLMEncoderSpec(num_layers=3, hidden_size=8, num_heads=2, num_kv_heads=1, head_dim=4, intermediate_size=12,
                                vocab_size=10, skip_last_layers=1, template_tokens=2)


def total(parts: dict) -> int:
    return sum(parts.values())


def test_toy_t5_and_umt5():
    # embedding 10*8 = 80; per layer q,k,v,o 4*8*8 = 256 + wi_0, wi_1, wo 3*8*16 = 384 + 2 norms 16 = 656, x2 = 1312;
    # relative bias 4 buckets x 2 heads = 8 (T5: layer 0 only; UMT5: both layers, 16); final norm 8
    assert total(text_encoder_params(TOY_T5)) == 80 + 8 + 1312 + 8 == 1408
    umt5 = TOY_T5.model_copy(update={"relative_bias_every_layer": True})
    assert total(text_encoder_params(umt5)) == 80 + 16 + 1312 + 8 == 1416
    # 3 tokens, per layer: q,k,v,o 2*3*8*32 = 1536; wi_0+wi_1 2*3*8*32 = 1536; wo 2*3*16*8 = 768; attention 4*3*3*8 = 288
    assert total(text_encoder_flops(umt5, 3)) == 2 * (1536 + 1536 + 768 + 288) == 8256
    assert text_encoder_tokens(TOY_T5, 7) == 7
    assert text_encoder_working_elements(TOY_T5, 3) == 3 * 16


def test_toy_clip_text():
    # token 10*8 = 80, positions 5*8 = 40; layer: q,k,v,out 4*(64+8) = 288, fc1 8*16+16 = 144, fc2 16*8+8 = 136,
    # two LayerNorms 2*2*8 = 32 -> 600; final LayerNorm 16
    assert total(text_encoder_params(TOY_CLIP)) == 80 + 40 + 600 + 16 == 736
    tokens = text_encoder_tokens(TOY_CLIP, 100)
    assert tokens == 5  # always padded to its positions
    # linear 2*5*8*32 + 2*5*8*16 + 2*5*16*8 = 2560 + 1280 + 1280; attention 4*5*5*8 = 800
    assert total(text_encoder_flops(TOY_CLIP, tokens)) == 5120 + 800 == 5920


def test_toy_decoder_llm():
    # embedding 80; per layer q 8*8 + o 8*8 + k 8*4 + v 8*4 = 192, SwiGLU 3*8*12 = 288, norms 16 -> 496, x3 = 1488; final 8
    assert total(text_encoder_params(TOY_LLM)) == 80 + 1488 + 8 == 1576
    tokens = text_encoder_tokens(TOY_LLM, 2)
    assert tokens == 2 + 2  # template + caption
    # 2 of 3 layers run; per layer at 4 tokens: q,k,v 2*4*8*16 = 1024, o 2*4*8*8 = 512, gate+up 2*4*8*24 = 1536,
    # down 2*4*12*8 = 768, attention (all 2 query heads) 4*4*4*8 = 512
    assert total(text_encoder_flops(TOY_LLM, tokens)) == 2 * (1024 + 512 + 1536 + 768 + 512) == 8704


def test_llm_cannot_skip_all_layers():
    with pytest.raises(ValueError, match="skip_last_layers"):
        DecoderLLMEncoderSpec.model_validate({**TOY_LLM.model_dump(), "skip_last_layers": 3})


def test_wan_residual_block_by_hand():
    tally = Tally()
    wan_residual(tally, 4, 8, positions=10)
    # RMS scales 4 + 8; conv1 4*8*27 + 8 = 872; conv2 8*8*27 + 8 = 1736; 1x1x1 shortcut 4*8 + 8 = 40
    assert tally.params[""] == 4 + 872 + 8 + 1736 + 40 == 2660
    # 2 FLOPs per MAC at 10 positions: 2*10*864 + 2*10*1728 + 2*10*32
    assert tally.flops[""] == 17280 + 34560 + 640 == 52480
    assert tally.largest_transient == 10 * 8


TOY_VAES = [
    # Wan: 4k+1 frames in chunks of 4, decoded latent frame by latent frame
    (WanVAESpec(base_dim=8, latent_channels=4, dim_mult=(1, 2, 2, 2), num_res_blocks=1, temporal_downsample=(False, True, True)),
     "wan", {"base_dim": 8, "z_dim": 4, "dim_mult": [1, 2, 2, 2], "num_res_blocks": 1, "temperal_downsample": [False, True, True]},
     (9, 16, 24)),
    # HunyuanVideo, 21 frames: temporal tiles of 17 and 9 frames; its 6 latent frames decode in tiles of 5 and 3
    (HunyuanVideoVAESpec(latent_channels=4, block_out_channels=(32, 32, 64, 64), layers_per_block=1),
     "hunyuanvideo", {"latent_channels": 4, "block_out_channels": (32, 32, 64, 64), "layers_per_block": 1}, (21, 16, 16)),
    # CogVideoX, 25 frames: batches 9, 8, 8; 7 latent frames decoded in batches 3, 2, 2
    (CogVideoXVAESpec(latent_channels=4, block_out_channels=(32, 32, 64, 64), layers_per_block=1),
     "cogvideox", {"latent_channels": 4, "block_out_channels": (32, 32, 64, 64), "layers_per_block": 1}, (25, 16, 24)),
    # LTX-Video, 2 scaling levels: 4x temporal, 16x spatial
    (LTXVideoVAESpec(latent_channels=8, patch_size=4, block_out_channels=(8, 16, 16), layers_per_block=(1, 1, 2, 1),
                     spatio_temporal_scaling=(True, True, False), decoder_block_out_channels=(8, 16, 16),
                     decoder_layers_per_block=(1, 2, 1, 1), decoder_spatio_temporal_scaling=(True, True, False)),
     "ltx_video", {"latent_channels": 8, "patch_size": 4, "block_out_channels": (8, 16, 16), "layers_per_block": (1, 1, 2, 1),
                       "spatio_temporal_scaling": (True, True, False), "down_block_types": ("LTXVideoDownBlock3D",) * 3,
                       "decoder_block_out_channels": (8, 16, 16), "decoder_layers_per_block": (1, 2, 1, 1),
                       "decoder_spatio_temporal_scaling": (True, True, False), "decoder_inject_noise": (False,) * 4,
                       "upsample_residual": (False,) * 3, "upsample_factor": (1,) * 3}, (13, 32, 64)),
]


@pytest.mark.parametrize("spec, kind, config, clip", TOY_VAES)
def test_toy_vaes_match_diffusers(spec, kind, config, clip):
    import tests.independent_components as ind  # torch, diffusers, transformers: the test extras
    model = ind.vae_model(kind, config)
    assert (total(vae_encoder_params(spec)), total(vae_decoder_params(spec))) == ind.vae_part_params(model)
    t, s = spec.temporal_compression, spec.spatial_compression
    latent = ((clip[0] - 1) // t + 1, clip[1] // s, clip[2] // s)
    assert ind.vae_encode_flops(model, *clip) == total(vae_encoder_flops(spec, *clip))
    assert ind.vae_decode_flops(model, *latent) == total(vae_decoder_flops(spec, *latent))


def test_hunyuan_whole_clip_without_temporal_tiling():
    import tests.independent_components as ind  # torch, diffusers, transformers: the test extras
    spec, kind, config, clip = TOY_VAES[1]
    model = ind.vae_model(kind, config)
    model.use_framewise_encoding = model.use_framewise_decoding = False
    whole = spec.model_copy(update={"temporal_tiling": False})
    assert ind.vae_encode_flops(model, *clip) == total(vae_encoder_flops(whole, *clip))
    assert ind.vae_decode_flops(model, 6, 2, 2) == total(vae_decoder_flops(whole, 6, 2, 2))
    # tiles recompute overlapping frames: more FLOPs than the whole clip
    assert total(vae_encoder_flops(spec, *clip)) > total(vae_encoder_flops(whole, *clip))


DIT = SimpleNamespace(patch_size=2, patch_size_t=1)


@pytest.mark.parametrize(
    "vae, frames, height, width, message",
    [
        (TOY_VAES[0][0], 80, 480, 832, "Wan 2.1 VAE: frames must be 4k+1 (got 80; e.g. 77 or 81)"),
        (TOY_VAES[3][0], 161, 500, 704, "LTX-Video VAE: height must be a positive multiple of 32 (got 500"),
        (TOY_VAES[2][0], 49, 480, 721, "CogVideoX VAE: width must be a positive multiple of 16 (got 721"),
    ],
)
def test_geometry_names_the_vae_clip_rule(vae, frames, height, width, message):
    # the toy LTX VAE compresses 16x spatially, so with 2x2 patches sides are multiples of 32
    with pytest.raises(PlanInputError) as err:
        clip_geometry(vae, DIT, frames, height, width)
    assert str(err.value).startswith(message)


def test_geometry_of_wan_default_clip():
    wan = TOY_VAES[0][0]
    # Wan 2.1: 81 frames -> 21 latent frames; 480x832 / 8 -> 60x104; 2x2 patches: 21 x 30 x 52 = 32,760 tokens
    geo = clip_geometry(wan, DIT, 81, 480, 832)
    assert (geo.latent_frames, geo.latent_height, geo.latent_width, geo.visual_tokens) == (21, 60, 104, 32760)


def test_vae_working_elements():
    wan = TOY_VAES[0][0]
    # level 0 convs write base_dim x dim_mult[0] = 8 channels at the full 9 x 16 x 24 clip (conv_in too)
    assert vae_encoder_working_elements(wan, 9, 16, 24) == 9 * 16 * 24 * 8
    hunyuan = HunyuanVideoVAESpec(latent_channels=16, block_out_channels=(128, 256, 512, 512), layers_per_block=2)
    # a 17-frame tile at 720x1280: its mid block attends over 5 x 90 x 160 = 72,000 latent positions, and the
    # dense causal mask (72,000^2 values) outgrows the widest conv output (17 x 720 x 1280 x 128 = 2.0e9)
    assert vae_encoder_working_elements(hunyuan, 129, 720, 1280) == 72_000**2


def test_wan_rejects_more_temporal_halvings_than_a_chunk_holds():
    # diffusers encodes 4 frames a chunk: a third halving would leave a chunk of half a frame
    with pytest.raises(ValueError, match="at most 2 temporal"):
        WanVAESpec(base_dim=8, latent_channels=4, dim_mult=(1, 2, 2, 2), num_res_blocks=1, temporal_downsample=(True, True, True))

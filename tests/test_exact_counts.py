"""Parameters and FLOPs of the real architectures, to the unit, against independent implementations.

Reference numbers are the ones in shared/reference/mochi-architecture.md; the independent counts come
from diffusers and transformers built on the meta device (tests/independent.py).
"""
import pytest

from estimators.counts.blocks import block_params, block_saved
from estimators.counts.dit import dit_forward_flops, dit_params
from estimators.counts.geometry import clip_geometry
from estimators.counts.text_encoders import t5_encoder_flops, t5_encoder_params
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from tests import independent as ind

# mochi-architecture.md
DIT_PARAMS = 10_027_677_744
FULL_BLOCK_PARAMS = 207_641_600
LAST_BLOCK_PARAMS = 169_886_720
T5_PARAMS = 4_762_310_656
VAE_ENCODER_PARAMS = 97_222_016
VAE_DECODER_PARAMS = 362_526_595
DIT_FORWARD_FLOPS = 1_667_505_875_902_464  # 163x480x848, 256 text tokens
DIT_ATTENTION_FLOPS = 1_182_532_343_169_024  # 4 * 44776^2 * 3072 * 48
DIT_UNCONDITIONAL_FLOPS = 1_653_106_998_042_624  # 0 valid text tokens
VAE_ENCODER_FLOPS = 281_125_660_262_400
VAE_DECODER_FLOPS = 1_053_193_765_847_040


# (activation, fp32) elements a token saves in one block of Mochi, by recompute mode, as the asymm_dit planner
# derived them (its counts/saved.py, checked against reference_model with saved_tensors_hooks in
# tests/test_profiling.py): d = 3072 visual / 1536 text, a = 3072 attention, f = 8192 / 4096 MLP, 24 heads.
MOCHI_SAVED = {
    # updated stream 10d + 12a (visual, with the learned RoPE's input) or 10a (text) + 4f, fp32 4 + 3 x 24:
    # visual 30,720 + 36,864 + 32,768; text 15,360 + 30,720 + 16,384; the last block's text 3d + 10a = 4,608 + 30,720,
    # fp32 1 + 3 x 24
    "none": {"visual": (100_352, 76), "text": (62_464, 76), "last_text": (35_328, 73)},
    # 3d + 4a + 2f: 9,216 + 12,288 + 16,384 and 4,608 + 12,288 + 8,192; the last text d + 4a = 1,536 + 12,288; lse 24
    "selective": {"visual": (37_888, 24), "text": (25_088, 24), "last_text": (13_824, 24)},
    "full": {"visual": (3_072, 0), "text": (1_536, 0), "last_text": (1_536, 0)},  # the block input d
}


def total(parts: dict) -> int:
    return sum(parts.values())


def test_mochi_parameters_match_reference(mochi):
    assert total(dit_params(mochi.dit)) == DIT_PARAMS
    full, last = mochi.dit.blocks  # 47 joint blocks, then the last one that leaves the text stream as it is
    assert (full.count, last.count) == (47, 1)
    assert block_params(mochi.dit, full) == FULL_BLOCK_PARAMS
    assert block_params(mochi.dit, last) == LAST_BLOCK_PARAMS
    assert total(t5_encoder_params(mochi.text_encoder)) == T5_PARAMS
    assert total(vae_encoder_params(mochi.vae)) == VAE_ENCODER_PARAMS
    assert total(vae_decoder_params(mochi.vae)) == VAE_DECODER_PARAMS


@pytest.mark.parametrize("recompute", MOCHI_SAVED)
def test_mochi_saved_elements_per_token(mochi, recompute):
    full, last = mochi.dit.blocks
    expected = MOCHI_SAVED[recompute]
    (visual, text), (last_visual, last_text) = (block_saved(mochi.dit, group, recompute) for group in (full, last))
    assert (visual.activation, visual.stats) == (last_visual.activation, last_visual.stats) == expected["visual"]
    assert (text.activation, text.stats) == expected["text"]
    assert (last_text.activation, last_text.stats) == expected["last_text"]


def test_mochi_parameters_match_diffusers_and_transformers(mochi):
    dit = ind.diffusers_mochi_dit()
    vae = ind.diffusers_mochi_vae()
    assert ind.numel(dit) == total(dit_params(mochi.dit))
    assert ind.numel(vae.encoder) == total(vae_encoder_params(mochi.vae))
    assert ind.numel(vae.decoder) == total(vae_decoder_params(mochi.vae))
    assert ind.numel(ind.t5_encoder(mochi.text_encoder)) == total(t5_encoder_params(mochi.text_encoder))


def test_mochi_dit_forward_flops_match_reference(mochi):
    geo = clip_geometry(mochi.vae, mochi.dit, 163, 480, 848)
    assert geo.visual_tokens == 44_520  # 28 x 30 x 53
    flops = dit_forward_flops(mochi.dit, geo.visual_tokens, 256)
    assert total(flops) == DIT_FORWARD_FLOPS
    assert flops["attention"] == DIT_ATTENTION_FLOPS
    assert total(dit_forward_flops(mochi.dit, geo.visual_tokens, 0)) == DIT_UNCONDITIONAL_FLOPS


def test_mochi_dit_forward_flops_match_flop_counter(mochi):
    model = ind.diffusers_mochi_dit()
    counted = ind.mochi_dit_forward_flops(model, 28, 60, 106, 256)
    assert counted == total(dit_forward_flops(mochi.dit, 44_520, 256))


@pytest.mark.parametrize(
    "config, latent, text",
    [
        # depth, heads, head width, text width, T5 width, text length, patch all differ from Mochi
        (dict(num_layers=3, num_attention_heads=4, attention_head_dim=32, pooled_projection_dim=96, text_embed_dim=256, max_sequence_length=24, time_embed_dim=64), (4, 8, 12), 24),
        (dict(num_layers=2, num_attention_heads=2, attention_head_dim=64, pooled_projection_dim=40, text_embed_dim=64, max_sequence_length=7, patch_size=4, in_channels=8), (3, 16, 8), 7),
    ],
)
def test_toy_dit_counts_match_diffusers(config, latent, text):
    model = ind.diffusers_mochi_dit(**config)
    spec = ind.dit_spec_like_diffusers(model)
    assert ind.numel(model) == total(dit_params(spec))
    tokens = latent[0] * (latent[1] // spec.patch_size) * (latent[2] // spec.patch_size)
    assert ind.mochi_dit_forward_flops(model, *latent, text) == total(dit_forward_flops(spec, tokens, text))


def test_vae_flops_match_reference_and_flop_counter(mochi):
    torch = ind.torch
    vae = ind.diffusers_mochi_vae()
    assert total(vae_encoder_flops(mochi.vae, 163, 480, 848)) == VAE_ENCODER_FLOPS
    assert total(vae_decoder_flops(mochi.vae, 28, 60, 106)) == VAE_DECODER_FLOPS
    pixels = torch.empty(1, 3, 163, 480, 848, device="meta")
    assert ind.count_flops(lambda: vae.encoder(pixels)) == VAE_ENCODER_FLOPS
    # diffusers keeps the causal frames Genmo's decoder drops (168 frames out, not 163)
    keeps_frames = mochi.vae.model_copy(update={"decoder_drops_causal_frames": False})
    latents = torch.empty(1, 12, 28, 60, 106, device="meta")
    assert ind.count_flops(lambda: vae.decoder(latents)) == total(vae_decoder_flops(keeps_frames, 28, 60, 106))


def test_t5_flops_match_flop_counter(mochi):
    torch = ind.torch
    model = ind.t5_encoder(mochi.text_encoder)
    for tokens in (256, 77):
        ids = torch.zeros(1, tokens, dtype=torch.long, device="meta")
        assert ind.count_flops(lambda: model(input_ids=ids)) == total(t5_encoder_flops(mochi.text_encoder, tokens))

"""Every video_dit preset's DiT against diffusers on the meta device, to the unit: parameters by numel and
the forward FLOPs of one conditional pass at batch 1 at the preset's default clip (FlopCounterMode).

Default clips (the contract of issue 11) and their latent shapes, through each VAE's compression:
Wan 81x480x832 (4x temporal, 8x spatial): 21 x 60 x 104 latent, 2x2 patches -> 21 x 30 x 52 = 32,760 tokens, 512 text
HunyuanVideo 129x720x1280 (4x, 8x): 33 x 90 x 160, 2x2 -> 33 x 45 x 80 = 118,800 tokens, 256 text
CogVideoX 49x480x720 (4x, 8x): 13 x 60 x 90, 2x2 -> 13 x 30 x 45 = 17,550 tokens, 226 text
LTX-Video 161x512x704 (8x, 32x): 21 x 16 x 22, 1x1 -> 7,392 tokens, 128 text
Each meta-device count takes about a second (no arithmetic runs).
"""
import pytest

from estimators.catalog.models import load_model
from estimators.counts.dit import dit_forward_flops, dit_params
from estimators.counts.geometry import clip_geometry
from tests import independent as ind

PRESETS = [
    # preset, diffusers class, published config, (latent frames, height, width) of the default clip
    ("wan2.1-t2v-14b", "WanTransformer3DModel", ind.WAN_14B, (21, 60, 104)),
    ("wan2.1-t2v-1.3b", "WanTransformer3DModel", ind.WAN_1_3B, (21, 60, 104)),
    ("hunyuanvideo-13b", "HunyuanVideoTransformer3DModel", ind.HUNYUAN_13B, (33, 90, 160)),
    ("cogvideox-5b", "CogVideoXTransformer3DModel", ind.COGVIDEOX_5B, (13, 60, 90)),
    ("cogvideox-2b", "CogVideoXTransformer3DModel", ind.COGVIDEOX_2B, (13, 60, 90)),
    ("ltx-video-2b", "LTXVideoTransformer3DModel", ind.LTX_2B, (21, 16, 22)),
]


def total(parts: dict) -> int:
    return sum(parts.values())


@pytest.mark.parametrize("preset, cls_name, config, latent", PRESETS, ids=[p[0] for p in PRESETS])
def test_preset_dit_matches_diffusers_to_the_unit(preset, cls_name, config, latent):
    system = load_model(preset)
    clip = system.default_clip
    geo = clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)
    assert (geo.latent_frames, geo.latent_height, geo.latent_width) == latent
    model = ind.meta_model(cls_name, config)
    assert ind.numel(model) == total(dit_params(system.dit))
    counted = ind.video_dit_forward_flops(model, *latent, clip.text_tokens)
    assert counted == total(dit_forward_flops(system.dit, geo.visual_tokens, clip.text_tokens))


# CogVideoX-2b's sin-cos position table is built for its 226 text tokens and sample size only; the 5B
# model has the same blocks with RoPE and covers them at other shapes.
OTHER_CLIP = [p for p in PRESETS if p[0] != "cogvideox-2b"]


@pytest.mark.parametrize("preset, cls_name, config, latent", OTHER_CLIP, ids=[p[0] for p in OTHER_CLIP])
def test_preset_dit_flops_match_at_another_clip(preset, cls_name, config, latent):
    # a small clip with a different text length: 3 latent frames of 8x12 (LTX: 4x6), 7 caption tokens
    system = load_model(preset)
    model = ind.meta_model(cls_name, config)
    shape = (3, 4, 6) if system.dit.patch_size == 1 else (3, 8, 12)
    tokens = shape[0] * (shape[1] // system.dit.patch_size) * (shape[2] // system.dit.patch_size)
    assert ind.video_dit_forward_flops(model, *shape, 7) == total(dit_forward_flops(system.dit, tokens, 7))


def test_published_params_of_cogvideox_are_met():
    # CogVideoX's model files give diffusers' numel as published_params.dit
    for preset in ("cogvideox-5b", "cogvideox-2b"):
        system = load_model(preset)
        assert system.published_params["dit"] == total(dit_params(system.dit))

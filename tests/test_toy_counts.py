"""Hand-derived counts on toy shapes (each expected value is worked out in the comment beside it)."""
import pytest

from estimators.counts import blocks
from estimators.counts.dit import dit_forward_flops
from estimators.counts.flops import attention_flops, matmul_flops
from estimators.counts.geometry import clip_geometry
from estimators.counts.params import linear_params
from estimators.counts.vaes import vae_encoder_flops
from estimators.errors import PlanInputError
from estimators.specs.dit_blocks import MLPOptions
from tests.independent import MOCHI_LAYOUT


def test_matmul_and_attention_conventions():
    # (3 x 4) @ (4 x 5): 60 multiply-adds, 2 FLOPs each
    assert matmul_flops(3, 4, 5) == 120
    # QK^T and AV over 10 x 10 tokens at width 8: 2 matmuls x 2 x 10 x 10 x 8 = 3,200 (not halved)
    assert attention_flops(10, 10, 8) == 3_200


def test_swiglu_mlp_params_of_mochi_visual_stream():
    # w1 3072 -> 2 x 8192 and w2 8192 -> 3072, no bias: 50,331,648 + 25,165,824
    assert blocks.mlp_params(MLPOptions(activation="swiglu", hidden=8192, bias=False), 3072) == 75_497_472
    assert linear_params(2, 3, bias=True) == 9  # 2x3 weights + 3 biases


def test_mochi_mlp_rounding(mochi):
    # the legacy asymm_dit rule: int(2 x 4 x 3072 / 3) = 8192 and int(2 x 4 x 1536 / 3) = 4096, already multiples of 256
    assert MOCHI_LAYOUT.mlp_hidden(3072) == 8192
    assert MOCHI_LAYOUT.mlp_hidden(1536) == 4096
    # 1000: int(8000/3) = 2666 -> next multiple of 256 is 2816
    assert MOCHI_LAYOUT.mlp_hidden(1000) == 2816
    # the preset states the hidden widths the rule gives
    assert (mochi.dit.blocks[0].mlp.hidden, mochi.dit.blocks[0].text_mlp.hidden) == (8192, 4096)


def test_last_block_rule(mochi):
    spec = mochi.dit
    full, last = spec.blocks
    # text modulation 3072 -> 4 x 1536 (+bias) becomes 3072 -> 1536 (+bias): 18,880,512 -> 4,720,128, beside the
    # visual 3072 -> 4 x 3072 (+bias) = 37,761,024
    assert blocks.modulation_params(full.modulation, 3072, 3072, 1536) == 37_761_024 + 18_880_512
    assert blocks.modulation_params(last.modulation, 3072, 3072, 1536) == 37_761_024 + 4_720_128
    full_text, last_text = (blocks.joint_stream_params(spec, group, blocks.joint_streams(spec, group)[1]) for group in (full, last))
    # the text q/k/v still feed the visual tokens: 3 x 1536 x 3072 = 14,155,776 + q/k RMSNorm scales 2 x 128;
    # the full block adds the text out-projection 3072 -> 1536 (+bias) 4,720,128 and the text MLP 1536 -> 2 x 4096 -> 1536
    # 12,582,912 + 6,291,456 = 18,874,368
    assert last_text == 14_155_776 + 256
    assert full_text == last_text + 4_720_128 + 18_874_368


def test_modulation_is_per_sample_not_per_token(mochi):
    few, many = dit_forward_flops(mochi.dit, 100, 10), dit_forward_flops(mochi.dit, 10_000, 10)
    assert few["modulation"] == many["modulation"]
    # per full block 2 x 3072 x (4x3072 + 4x1536) = 113,246,208; last 2 x 3072 x (4x3072 + 1536) = 84,934,656
    assert few["modulation"] == 47 * 113_246_208 + 84_934_656


def test_geometry_of_default_clip(mochi):
    geo = clip_geometry(mochi.vae, mochi.dit, 163, 480, 848)
    # (163-1)/6+1 = 28 latent frames of 480/8 x 848/8 = 60 x 106; 2x2 patches: 28 x 30 x 53 = 44,520
    assert (geo.latent_frames, geo.latent_height, geo.latent_width, geo.visual_tokens) == (28, 60, 106, 44_520)


@pytest.mark.parametrize("frames, height, width", [(160, 480, 848), (163, 481, 848), (163, 480, 840), (0, 480, 848), (163, -16, 848)])
def test_geometry_rejects_what_vae_and_patching_cannot_divide(mochi, frames, height, width):
    with pytest.raises(PlanInputError):
        clip_geometry(mochi.vae, mochi.dit, frames, height, width)


def test_vae_encoder_single_frame_toy(mochi):
    # 1 frame 16x16: proj_in 2 x 256 px x 15 x 64 = 491,520; the strided stages keep 1 frame (causal pad)
    parts = vae_encoder_flops(mochi.vae, 1, 16, 16)
    assert parts["proj_in"] == 491_520
    # stage 0: 3 blocks x 2 convs x 2 x 256 positions x 64 x 64 x 27 = 339,738,624
    assert parts["stage0"] == 339_738_624

"""Hand-derived counts on toy shapes (each expected value is worked out in the comment beside it)."""
import pytest

from estimators.counts.flops import attention_flops, dit_forward_flops, matmul_flops
from estimators.counts.geometry import clip_geometry
from estimators.counts.params import dit_block_params, linear_params, mlp_params
from estimators.counts.vaes import vae_encoder_flops
from estimators.errors import PlanInputError


def test_matmul_and_attention_conventions():
    # (3 x 4) @ (4 x 5): 60 multiply-adds, 2 FLOPs each
    assert matmul_flops(3, 4, 5) == 120
    # QK^T and AV over 10 x 10 tokens at width 8: 2 matmuls x 2 x 10 x 10 x 8 = 3,200 (not halved)
    assert attention_flops(10, 10, 8) == 3_200


def test_swiglu_mlp_params_of_mochi_visual_stream():
    # w1 3072 -> 2 x 8192 and w2 8192 -> 3072, no bias: 50,331,648 + 25,165,824
    assert mlp_params(3072, 8192, "swiglu", bias=False) == 75_497_472
    assert linear_params(2, 3, bias=True) == 9  # 2x3 weights + 3 biases


def test_mochi_mlp_rounding(mochi):
    # int(2 x 4 x 3072 / 3) = 8192 and int(2 x 4 x 1536 / 3) = 4096, already multiples of 256
    assert mochi.dit.mlp_hidden(3072) == 8192
    assert mochi.dit.mlp_hidden(1536) == 4096
    # 1000: int(8000/3) = 2666 -> next multiple of 256 is 2816
    assert mochi.dit.mlp_hidden(1000) == 2816


def test_last_block_rule(mochi):
    full, last = dit_block_params(mochi.dit, False), dit_block_params(mochi.dit, True)
    # text modulation 3072 -> 4 x 1536 (+bias) becomes 3072 -> 1536 (+bias): 18,880,512 -> 4,720,128
    assert full["mod_text"] == 18_880_512 and last["mod_text"] == 4_720_128
    assert last["mlp_text"] == 0 and last["out_text"] == 0
    assert last["qkv_text"] == full["qkv_text"]  # text K/V still feed the visual tokens


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

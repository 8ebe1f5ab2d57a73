"""The block-vocabulary parts new presets need, on toy shapes; each expected number is derived beside it.

Toy model (tests/test_toy_blocks.py): 2 heads of 4 (width d = 8), conditioning width c = 8, N = 10 visual and
L = 3 caption tokens. A dense layer a -> b with bias has a*b + b parameters and costs 2 * rows * a * b FLOPs.
"""
import pytest

from estimators.counts import blocks
from estimators.specs.dit_blocks import (
    AttentionOptions,
    Conditioning,
    ContextEmbedder,
    CrossBlock,
    FinalLayer,
    MLPOptions,
    Modulation,
    QKNorm,
)
from tests.test_toy_blocks import CROSS, JOINT, toy

NO_BIAS = AttentionOptions(qkv_bias=False, out_bias=False, qk_norm=QKNorm(kind="rms"))
COSMOS_LIKE = CrossBlock(count=1, norm="layer", cross_norm="layer", cross_modulated=True, attention=NO_BIAS, cross_attention=NO_BIAS,
                         mlp=MLPOptions(activation="gelu", hidden=16, bias=False), modulation=Modulation(kind="low_rank", outputs=9, groups=3, rank=2))


def test_context_embedders_add_tokens_params_and_flops():
    glyph = ContextEmbedder(name="glyph", feature_dim=6, tokens=4, norm_in="layer_affine", hidden=(5,))
    idle = ContextEmbedder(name="image", feature_dim=6, tokens=0, hidden=(), norm_out="layer_affine")
    spec = toy(JOINT, context_embedders=(glyph, idle), context_type_embeddings=3)
    parts = blocks.embedder_params(spec)
    # glyph: LayerNorm 2 x 6 = 12, 6 -> 5: 35, 5 -> 8: 48 -> 95; idle: 6 -> 8: 56 + LayerNorm 2 x 8 = 16 -> 72
    assert parts["context_embed"] == 95 + 72
    assert parts["context_type_embed"] == 3 * 8  # a table of 3 rows of the text width
    assert blocks.block_text_tokens(spec, 3) == 3 + 4 + 0
    # the blocks see 7 text tokens: the joint attention over 10 + 7 tokens, 4 x 17 x 17 x 8
    assert blocks.video_dit_forward_flops(spec, 10, 3)["attention"] == 9_248
    # embedders: the glyph projection on its 4 tokens, 2 x 4 x (6 x 5 + 5 x 8) = 560; the idle one runs on none
    base = blocks.embedder_flops(toy(JOINT), 10, 3)
    assert blocks.embedder_flops(spec, 10, 3) - base == 560


def test_cross_attention_straight_from_text_features():
    spec = toy(COSMOS_LIKE, caption_projection="none", text_feature_dim=12)
    assert spec.text_stream_width == 12
    assert blocks.embedder_params(spec)["caption_proj"] == 0
    # self q, k, v, out 4 x 64 = 256 + per-head RMS scales 2 x 4 = 264; cross q, out 2 x 64 + k, v from 12: 2 x 96
    # = 320 + 8 = 328; MLP 8 -> 16 -> 8 without bias 256; low-rank modulation 3 x 8 x 2 + 2 x 9 x 8 = 48 + 144 = 192
    assert blocks.block_params(spec, COSMOS_LIKE) == 264 + 328 + 256 + 192
    flops = blocks.block_flops(spec, COSMOS_LIKE, 10, 3)
    assert flops["linear_text"] == 2 * 3 * 12 * 16  # keys and values of 3 tokens from the 12-wide features
    assert flops["modulation"] == 3 * 2 * 8 * 2 + 2 * 2 * 72  # 96 down + 288 up, one row


def test_modulated_cross_attention_saves_its_norm_and_gate():
    plain = COSMOS_LIKE.model_copy(update={"cross_modulated": False})
    spec = toy(COSMOS_LIKE, caption_projection="none", text_feature_dim=12)
    gated = blocks.block_saved(spec, COSMOS_LIKE, "none")[0].activation
    ungated = blocks.block_saved(spec, plain, "none")[0].activation
    assert gated - ungated == 2 * 8  # the norm's pre-scale copy d and the gated output d (measured: test_new_presets_exact)


def test_cosmos_conditioning_and_low_rank_final_layer():
    cond = Conditioning(width=8, timestep_freq_dim=8, timestep_bias=False, timestep_outputs=3, timestep_norm="rms_affine")
    final = FinalLayer(modulation="low_rank", modulation_rank=2, bias=False)
    spec = toy(CROSS, conditioning=cond, final_layer=final)
    # timestep MLP 8 -> 8 -> 24 without biases: 64 + 192 = 256, and the RMS scale of its 8 input features
    assert blocks.embedder_params(spec)["timestep_embed"] == 256 + 8
    # final: 8 -> 2 -> 16 without biases 16 + 32 = 48; projection 8 -> 4 x 4 patch values without bias: 128
    assert blocks.final_layer_params(spec) == 48 + 128
    assert blocks.final_layer_flops(spec, 10) == 2 * 16 + 2 * 32 + 2 * 10 * 8 * 16


def test_condition_embedding_is_a_second_patch_embedding():
    spec = toy(JOINT, condition_embed_channels=5)
    # 5 channels x 2 x 2 patch = 20 -> 8 with bias: 168; run on the 10 visual tokens: 2 x 10 x 20 x 8
    assert blocks.embedder_params(spec)["condition_embed"] == 168
    assert blocks.embedder_flops(spec, 10, 3) - blocks.embedder_flops(toy(JOINT), 10, 3) == 3_200


@pytest.mark.parametrize("changes, words", [
    (dict(caption_projection="none"), "caption_projection 'none' needs cross blocks only"),
    (dict(conditioning=Conditioning(width=8, timestep_freq_dim=4, timestep_norm="rms_affine")), "timestep_freq_dim must equal"),
])
def test_vocabulary_refuses_impossible_combinations(changes, words):
    with pytest.raises(ValueError, match=words):
        toy(JOINT, **changes)


def test_final_low_rank_needs_its_rank():
    with pytest.raises(ValueError, match="modulation_rank"):
        FinalLayer(modulation="low_rank")

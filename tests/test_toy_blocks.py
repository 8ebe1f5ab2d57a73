"""The video_dit block vocabulary on toy shapes; each expected number is derived in the comment beside it.

Toy model: 2 heads of 4 (width d = 8), MLP hidden f = 16, conditioning width c = 8 unless said,
N = 10 visual and L = 3 text tokens. A dense layer a -> b with bias has a*b + b parameters and costs
2 * rows * a * b FLOPs; attention costs 2 products x 2 x s_q x s_k x d.
"""
from estimators.counts import blocks
from estimators.specs.dit_blocks import (
    AttentionOptions,
    Conditioning,
    CrossBlock,
    FinalLayer,
    JointBlock,
    MLPOptions,
    Modulation,
    QKNorm,
    SingleBlock,
    TokenRefiner,
    VideoDiTSpec,
)

GELU = MLPOptions(activation="gelu_tanh", hidden=16)
RMS_ACROSS = AttentionOptions(qk_norm=QKNorm(kind="rms", across_heads=True))
RMS_HEAD = AttentionOptions(qk_norm=QKNorm(kind="rms"))
CROSS = CrossBlock(count=1, norm="layer", cross_norm="layer_affine", attention=RMS_ACROSS, cross_attention=RMS_ACROSS,
                   mlp=GELU, modulation=Modulation(kind="shared_table", outputs=6))
JOINT = JointBlock(count=1, norm="layer", attention=RMS_HEAD, mlp=GELU, modulation=Modulation(kind="per_block", outputs=6, text_outputs=6))
PARALLEL = SingleBlock(count=1, parallel=True, norm="layer", attention=RMS_HEAD, mlp=GELU, modulation=Modulation(kind="per_block", outputs=3))
SEQUENTIAL = SingleBlock(count=1, parallel=False, norm="layer_affine", attention=AttentionOptions(qk_norm=QKNorm(kind="layer", bias=True)),
                         mlp=GELU, modulation=Modulation(kind="per_block", outputs=12))


def toy(*groups, **changes) -> VideoDiTSpec:
    fields = dict(num_heads=2, head_dim=4, patch_size=2, patch_size_t=1, in_channels=4, out_channels=4, text_feature_dim=12,
                  max_text_tokens=3, caption_projection="mlp", conditioning=Conditioning(width=8, timestep_freq_dim=4),
                  rope="fixed_3d", blocks=groups, final_layer=FinalLayer(modulation="shared_table"))
    return VideoDiTSpec(**{**fields, **changes})


def test_cross_block_params_and_flops():
    spec = toy(CROSS)
    # self-attention: q, k, v, out 4 x (64 + 8) = 288, + q/k RMS scales across heads 2 x 8 = 304;
    # cross-attention the same 304; affine LayerNorm before it 2 x 8 = 16; MLP 8->16->8: 144 + 136 = 280;
    # modulation table 6 x 8 = 48. Total 304 + 304 + 16 + 280 + 48 = 952
    assert blocks.block_params(spec, CROSS) == 952
    flops = blocks.block_flops(spec, CROSS, 10, 3)
    assert flops["attention"] == 3_200  # 4 x 10 x 10 x 8
    assert flops["cross_attention"] == 960  # 4 x 10 x 3 x 8
    # qkv 2x10x8x24 = 3,840; self out, cross q, cross out 3 x 2x10x8x8 = 3,840; MLP 2x10x8x16 x 2 = 5,120
    assert flops["linear_visual"] == 12_800
    assert flops["linear_text"] == 768  # cross keys and values of the text: 2 x 3 x 8 x 16
    assert flops["modulation"] == 0  # a table is added, not multiplied


def test_joint_block_params_and_flops():
    spec = toy(JOINT)
    # each stream: q, k, v, out 288 + per-head RMS scales 2 x 4 = 296, MLP 280 -> 576; two streams 1,152;
    # modulation c=8 -> (6 + 6) x 8 = 96 with bias: 768 + 96 = 864. Total 2,016
    assert blocks.block_params(spec, JOINT) == 2_016
    flops = blocks.block_flops(spec, JOINT, 10, 3)
    assert flops["attention"] == 5_408  # 4 x 13 x 13 x 8: one attention over visual + text
    assert flops["linear_visual"] == 10_240  # qkv 3,840 + out 1,280 + MLP 5,120
    assert flops["linear_text"] == 3_072  # the same on 3 rows: 1,152 + 384 + 1,536
    assert flops["modulation"] == 1_536  # 2 x 8 x 96, one row


def test_parallel_single_block_params_and_flops():
    spec = toy(PARALLEL)
    # q, k, v 3 x 72 = 216 + RMS scales 8 = 224; MLP in 8 -> 16: 144; fused out (8 + 16) -> 8: 192 + 8 = 200;
    # modulation 8 -> 3 x 8 with bias: 192 + 24 = 216. Total 784 (no separate attention out-projection)
    assert blocks.block_params(spec, PARALLEL) == 784
    flops = blocks.block_flops(spec, PARALLEL, 10, 3)
    # per row: 2 x 8 x (24 + 16) = 640 in, 2 x 24 x 8 = 384 out -> 1,024; 10 rows 10,240, 3 rows 3,072
    assert (flops["linear_visual"], flops["linear_text"]) == (10_240, 3_072)
    assert flops["modulation"] == 384  # 2 x 8 x 24


def test_sequential_single_block_with_expert_norms():
    spec = toy(SEQUENTIAL, conditioning=Conditioning(width=6, timestep_freq_dim=8))
    # two affine LayerNorms 2 x 16 = 32; attention 288 + per-head LayerNorm q/k scale and bias 2 x 2 x 4 = 16;
    # MLP 280; expert modulation c=6 -> 12 x 8 with bias: 576 + 96 = 672. Total 32 + 304 + 280 + 672 = 1,288
    assert blocks.block_params(spec, SEQUENTIAL) == 1_288
    assert blocks.block_flops(spec, SEQUENTIAL, 10, 3)["modulation"] == 1_152  # 2 x 6 x 96


def test_low_rank_modulation():
    mod = Modulation(kind="low_rank", outputs=9, groups=3, rank=2)
    # three down-projections 8 -> 2 (48) and the up-projections 2 -> 9 x 8 (144), no biases
    assert blocks.modulation_params(mod, 8, 8) == 192
    assert blocks.modulation_flops(mod, 8, 8) == 384  # 3 x 2 x 8 x 2 + 2 x 2 x 72


def test_gated_mlps_have_two_first_layer_halves():
    swiglu = MLPOptions(activation="swiglu", hidden=16, bias=False)
    # 8 -> 2 x 16 and 16 -> 8, no bias: 256 + 128 = 384; GELU (biased) 280
    assert blocks.mlp_params(swiglu, 8) == 384 and blocks.mlp_params(GELU, 8) == 280
    # gelu and gelu_tanh count the same
    assert blocks.mlp_params(MLPOptions(activation="gelu", hidden=16), 8) == 280


def test_embedders_and_final_layer():
    spec = toy(CROSS, token_refiner=TokenRefiner(num_layers=1, mlp_hidden=16, timestep_freq_dim=4),
               conditioning=Conditioning(width=8, timestep_freq_dim=4, guidance_embed=True, pooled_text_dim=5, shared_modulation_outputs=6))
    parts = blocks.video_dit_params(spec)
    assert parts["patch_embed"] == 136  # 4 channels x 2 x 2 = 16 -> 8 with bias
    assert parts["caption_proj"] == 176  # 12 -> 8 (104) -> 8 (72)
    assert parts["timestep_embed"] == parts["guidance_embed"] == 112  # 4 -> 8 (40) -> 8 (72)
    assert parts["pooled_text_embed"] == 120  # 5 -> 8 (48) -> 8 (72)
    assert parts["shared_modulation"] == 432  # 8 -> 6 x 8 with bias
    # refiner: timestep MLP 112, mean-text MLP 12 -> 8 -> 8 176, one block: two affine LayerNorms 32 +
    # q/k/v/out 288 + SiLU MLP 280 + gates 8 -> 16 (144) = 744 -> 1,032
    assert parts["token_refiner"] == 1_032
    assert parts["final_layer"] == 160  # table 2 x 8 + 8 -> 16 patch values with bias (144)


def test_cross_block_saved_activations_under_recompute():
    spec = toy(CROSS)
    visual, text = blocks.block_saved(spec, CROSS, "full")
    assert (visual.activation, text.activation) == (8, 0)  # the block input; text is one tensor for all blocks
    visual, text = blocks.block_saved(spec, CROSS, "selective")
    # input d, qkv 3d, flash out d, self out d, cross q d, cross flash out d, cross out d, MLP in f, out d = 10d + f
    assert visual.activation == 96 and text.activation == 16  # text: cross keys and values 2d


def test_layer_summary_of_mixed_and_cross_models():
    from estimators.counts.dit import layer_summary

    mixed = toy(JOINT.model_copy(update={"count": 2}), PARALLEL.model_copy(update={"count": 4}))
    summary = layer_summary(mixed, 10, 3)
    assert summary.num_layers == 6 and summary.attention_seq == 13  # joint attention sees visual + text
    # tensor-parallel reductions a layer: (2 joint x 2 + 4 parallel single x 1) / 6
    assert summary.visual.tp_collectives_per_layer == 8 / 6
    assert summary.layer_params == 2_016  # the largest block (joint 2,016 > parallel 784) is gathered at once
    assert summary.block_params_total == 2 * 2_016 + 4 * 784
    cross = layer_summary(toy(CROSS), 10, 3)
    # self-attention over the 10 visual tokens only; cross-attention keys are the 3 text tokens
    assert (cross.attention_seq, cross.cross_attention_kv_tokens, cross.cross_attention_flops_per_layer) == (10, 3, 960)
    assert cross.text.tp_collectives_per_layer == 0  # text only enters column-parallel key/value projections

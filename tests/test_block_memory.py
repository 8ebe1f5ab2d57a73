"""Saved activations of the video_dit block kinds against diffusers' blocks, measured.

One block of each diffusers model runs forward in fp32 on the CPU (flash attention for CPU) inside
torch.autograd.graph.saved_tensors_hooks; every saved storage is counted once, leaving out parameters and
the tensors shared by all blocks (conditioning, rotary tables; Wan and LTX also the text, which is the same
tensor in every block). The prediction is blocks.block_saved under no recompute; under selective
recompute the outputs PyTorch's selective checkpointing caches with the reference model's policy
(matmuls and flash attention) are counted, as reference_model.profiling does for Mochi.
Two diffusers processors keep one copy a plain implementation does not, added to the prediction:
CogVideoX transposes the attention output before its out-projection (one a-wide copy a token), and
HunyuanVideo's single blocks re-concatenate the split text and video before q/k/v (one d-wide copy).
"""
import pytest

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
    VideoDiTSpec,
)
from tests import independent as ind

torch = ind.torch
HEADS, HEAD_DIM = 4, 32
D = HEADS * HEAD_DIM
N, L = 256, 16  # visual and text tokens
FP32 = 4
TOLERANCE = 0.01  # what is left: per-sample modulation vectors and per-head statistics rounding

RMS_ACROSS = AttentionOptions(qk_norm=QKNorm(kind="rms", across_heads=True))
GELU = MLPOptions(activation="gelu_tanh", hidden=4 * D)


def spec_with(block, **changes) -> VideoDiTSpec:
    fields = dict(num_heads=HEADS, head_dim=HEAD_DIM, patch_size=2, in_channels=16, out_channels=16, text_feature_dim=64,
                  max_text_tokens=L, caption_projection="linear", conditioning=Conditioning(width=D, timestep_freq_dim=256),
                  rope="fixed_3d", blocks=(block,), final_layer=FinalLayer(modulation="per_block"))
    return VideoDiTSpec(**{**fields, **changes})


def measured_bytes(block, call, shared) -> int:
    exclude = {t.untyped_storage().data_ptr() for t in (*block.parameters(), *shared)}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in exclude:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        call()
    return sum(saved.values())


def predicted_bytes(spec, recompute: str, extra_per_token: int = 0) -> int:
    visual, text = blocks.block_saved(spec, spec.blocks[0], recompute)
    return FP32 * (N * (visual.activation + visual.stats) + L * (text.activation + text.stats) + (N + L) * extra_per_token)


def inputs(temb_shape):
    torch.manual_seed(0)
    return (torch.randn(1, N, D, requires_grad=True), torch.randn(1, L, D, requires_grad=True), torch.randn(*temb_shape, requires_grad=True))


def case_wan():
    model = ind.meta_free("WanTransformer3DModel", dict(num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, ffn_dim=4 * D, num_layers=1, text_dim=64, freq_dim=32))
    block = model.blocks[0]
    x, y, temb = inputs((1, 6, D))
    rope = model.rope(torch.empty(1, 16, 4, 16, 16))
    spec = spec_with(CrossBlock(count=1, norm="layer", cross_norm="layer_affine", attention=RMS_ACROSS, cross_attention=RMS_ACROSS,
                                mlp=GELU, modulation=Modulation(kind="shared_table", outputs=6)))
    return block, lambda: block(x, y, temb, rope), [x, y], (temb, *rope, y), spec, 0


def case_ltx():
    model = ind.meta_free("LTXVideoTransformer3DModel", dict(in_channels=8, out_channels=8, num_attention_heads=HEADS, attention_head_dim=HEAD_DIM,
                                                             cross_attention_dim=D, num_layers=1, caption_channels=64))
    block = model.transformer_blocks[0]
    x, y, temb = inputs((1, 1, 6 * D))
    rope = (torch.randn(1, N, D), torch.randn(1, N, D))
    spec = spec_with(CrossBlock(count=1, norm="rms", cross_norm="none", attention=RMS_ACROSS, cross_attention=RMS_ACROSS,
                                mlp=GELU, modulation=Modulation(kind="shared_table", outputs=6)))
    return block, lambda: block(x, y, temb, rope), [x, y], (temb, *rope, y), spec, 0


def _hunyuan(double: bool):
    model = ind.meta_free("HunyuanVideoTransformer3DModel", dict(num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, num_layers=1,
                                                                 num_single_layers=1, num_refiner_layers=1, text_embed_dim=64,
                                                                 pooled_projection_dim=32, rope_axes_dim=(8, 12, 12)))
    block = model.transformer_blocks[0] if double else model.single_transformer_blocks[0]
    x, y, temb = inputs((1, D))
    rope = model.rope(torch.empty(1, 16, 4, 16, 16))
    return block, x, y, temb, rope


def case_hunyuan_double():
    block, x, y, temb, rope = _hunyuan(True)
    spec = spec_with(JointBlock(count=1, norm="layer", attention=AttentionOptions(qk_norm=QKNorm(kind="rms")), mlp=GELU,
                                modulation=Modulation(kind="per_block", outputs=6, text_outputs=6)))
    return block, lambda: block(x, y, temb, None, rope), [x, y], (temb, *rope), spec, 0


def case_hunyuan_single():
    block, x, y, temb, rope = _hunyuan(False)
    spec = spec_with(SingleBlock(count=1, parallel=True, norm="layer", attention=AttentionOptions(qk_norm=QKNorm(kind="rms")), mlp=GELU,
                                 modulation=Modulation(kind="per_block", outputs=3)))
    return block, lambda: block(x, y, temb, None, rope), [x, y], (temb, *rope), spec, D


def case_cogvideox():
    model = ind.meta_free("CogVideoXTransformer3DModel", dict(num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, num_layers=1, time_embed_dim=64,
                                                              text_embed_dim=64, use_rotary_positional_embeddings=True))
    block = model.transformer_blocks[0]
    x, y, temb = inputs((1, 64))
    rope = (torch.randn(N, HEAD_DIM), torch.randn(N, HEAD_DIM))
    spec = spec_with(SingleBlock(count=1, parallel=False, norm="layer_affine", attention=AttentionOptions(qk_norm=QKNorm(kind="layer", bias=True)),
                                 mlp=GELU, modulation=Modulation(kind="per_block", outputs=12)), conditioning=Conditioning(width=64, timestep_freq_dim=D))
    return block, lambda: block(x, y, temb, rope), [x, y], (temb, *rope), spec, D


CASES = [case_wan, case_ltx, case_hunyuan_double, case_hunyuan_single, case_cogvideox]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__[5:])
def test_saved_bytes_of_a_block_match_diffusers(case):
    block, call, _, shared, spec, extra = case()
    measured, predicted = measured_bytes(block, call, shared), predicted_bytes(spec, "none", extra)
    assert abs(predicted / measured - 1) <= TOLERANCE, (predicted, measured)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__[5:])
def test_selective_recompute_bytes_of_a_block_match_diffusers(case):
    # the policy caches matmul and attention outputs only, so neither diffusers copy is kept
    block, call, kept_inputs, shared, spec, _ = case()
    measured, predicted = selective_bytes(block, call, kept_inputs, shared), predicted_bytes(spec, "selective")
    assert abs(predicted / measured - 1) <= TOLERANCE, (predicted, measured)


def selective_bytes(block, call, kept_inputs, shared) -> int:
    """Bytes kept under selective recompute: the block's own inputs and the outputs the policy caches
    (matmuls and flash attention), as reference_model.profiling measures the reference DiT."""
    from functools import partial

    from torch.utils.checkpoint import checkpoint, create_selective_checkpoint_contexts

    from reference_model.dit import _save_matmuls
    from reference_model.profiling import _flatten, _storage_bytes

    exclude = {t.untyped_storage().data_ptr() for t in (*block.parameters(), *shared)}
    contexts = []

    def context():
        contexts.append(create_selective_checkpoint_contexts(partial(_save_matmuls)))
        return contexts[-1]

    checkpoint(call, use_reentrant=False, context_fn=context)
    cache = contexts[0][0].storage
    kept = _storage_bytes(kept_inputs, exclude)
    kept.update(_storage_bytes([t for entry in cache.values() for outs in entry.values() for t in _flatten(outs)], exclude))
    return sum(kept.values())

"""What a diffusers block saves under CUDA autocast (implementation diffusers-autocast, counts/saved_autocast.py),
against one CogVideoX-2b block at its published width run under autocast's op policy (tests/autocast_policy.py) on
the meta device with fused attention (tests/saved_fullsize.py), in full training and with LoRA on the attention."""
from __future__ import annotations

import contextlib

import pytest
import torch
from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXBlock

from estimators.catalog.models import load_model
from estimators.counts.saved_autocast import saved_with_autocast
from estimators.specs.training import Training
from estimators.units import BF16_BYTES, FP32_BYTES
from tests.autocast_policy import emulated_autocast
from tests.saved_fullsize import LoraLinear, fused_kernels

SYSTEM = load_model("cogvideox-2b")
SPEC, BLOCK = SYSTEM.dit, SYSTEM.dit.blocks[0]
# THUDM/CogVideoX-2b transformer/config.json: 30 heads of 64, time_embed_dim 512, LayerNorm affine, attention bias
HEADS, HEAD_DIM, TIME_EMBED_DIM = 30, 64, 512
TEXT_TOKENS, RANK = 226, 64
VISUAL = (1024, 2048)  # two clip lengths: the difference is what a visual token adds


def _block(lora: bool, weight_dtype: torch.dtype) -> torch.nn.Module:
    block = CogVideoXBlock(SPEC.width, HEADS, HEAD_DIM, TIME_EMBED_DIM, attention_bias=True).to(device="meta", dtype=weight_dtype)
    if lora:
        block.requires_grad_(False)
        attn = block.attn1
        attn.to_q, attn.to_k, attn.to_v = (LoraLinear(m, RANK) for m in (attn.to_q, attn.to_k, attn.to_v))
        attn.to_out[0] = LoraLinear(attn.to_out[0], RANK)
    return block


def _saved_bytes(block, visual: int, lora: bool, autocast: bool) -> int:
    meta = lambda *shape: torch.empty(*shape, device="meta", dtype=torch.bfloat16)  # noqa: E731
    hidden, text, temb = meta(1, visual, SPEC.width).requires_grad_(), meta(1, TEXT_TOKENS, SPEC.width).requires_grad_(), meta(1, TIME_EMBED_DIM)
    temb.requires_grad_(not lora)  # a trained time embedding feeds the modulation in full training
    params = {p.untyped_storage()._cdata for p in block.parameters()}
    storages = {}

    def pack(t):
        if t.untyped_storage()._cdata not in params:
            storages[t.untyped_storage()._cdata] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), fused_kernels(), \
            (emulated_autocast() if autocast else contextlib.nullcontext()):
        block(hidden, text, temb)
    return sum(storages.values())


def _measured_bytes_a_visual_token(lora: bool, autocast: bool) -> float:
    # accelerate's full fine-tuning keeps fp32 weights under autocast (cast once, cached); LoRA a bf16 base
    block = _block(lora, torch.float32 if (autocast and not lora) else torch.bfloat16)
    small, large = (_saved_bytes(block, v, lora, autocast) for v in VISUAL)
    return (large - small) / (VISUAL[1] - VISUAL[0])


def _counted_bytes_a_visual_token(lora: bool, implementation: str) -> float:
    training = Training(method="lora", lora_rank=RANK, lora_targets="attention") if lora else None
    visual, _ = saved_with_autocast(SPEC, BLOCK, "none", implementation, training)
    return visual.activation * BF16_BYTES + visual.stats * FP32_BYTES


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_autocast_block_saves_what_the_count_says(lora: bool):
    eager = _measured_bytes_a_visual_token(lora, autocast=False)
    autocast = _measured_bytes_a_visual_token(lora, autocast=True)
    assert _counted_bytes_a_visual_token(lora, "diffusers") == pytest.approx(eager, rel=0.01)
    assert _counted_bytes_a_visual_token(lora, "diffusers-autocast") == pytest.approx(autocast, rel=0.01)
    # full: LayerNorm inputs and the modulated outputs fp32 (2 x 2 x 4d), q/k/v's three casts, q/k norm inputs fp32: +16 d;
    # LoRA: fp32 norm inputs, the three adapters' casts, q/k norm inputs: +12 d
    assert autocast - eager == pytest.approx((12 if lora else 16) * SPEC.width, rel=0.01)


def test_recompute_keeps_the_checkpointed_tensors_as_they_were():
    for mode in ("selective", "full"):
        assert saved_with_autocast(SPEC, BLOCK, mode, "diffusers-autocast") == saved_with_autocast(SPEC, BLOCK, mode, "diffusers")

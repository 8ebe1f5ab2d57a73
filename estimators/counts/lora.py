"""LoRA (Hu et al. 2021): what it trains, and how it changes what a block saves for backward.

A targeted weight W (d_out x d_in) gets A (r x d_in) and B (d_out x r): r (d_in + d_out) trained parameters,
the base frozen. Targets (specs/training.py):
- ``attention``: the q, k, v and output projections of every attention, as diffusers names them
  (``to_q to_k to_v to_out.0``): cross blocks both attentions (the cross-attention's k and v read the
  projected text, d wide); joint blocks the visual stream's (the text stream's ``add_q_proj`` ... are other
  modules); sequential single blocks q, k, v, out; parallel single blocks q, k, v (no ``to_out``: the fused
  ``proj_out`` is another module); HunyuanVideo's token-refiner attentions too. Checked against the trainable
  parameters finetrainers publishes (tests/test_training_modes.py: LTX-Video 117,440,512, CogVideoX-5B
  132,120,576, HunyuanVideo 163,577,856 at rank 128).
- ``all-linear``: every matmul of the blocks (both streams' projections and MLPs, the per-block modulation
  projection), PEFT's ``all-linear``; embedders and final layer stay frozen.

What a block saves under LoRA: counts/saved_lora.py (lora_dropout 0, the diffusers and finetrainers
default: A reads the same input tensor the base matmul does).
"""
from __future__ import annotations

from estimators.counts.blocks import joint_streams, mlp_first_width
from estimators.specs.dit_blocks import CrossBlock, JointBlock, VideoDiTSpec
from estimators.specs.models import GPTSpec
from estimators.specs.training import Training

QKV = 3
QKVO = 4
CROSS_BLOCK_ATTENTIONS = 2  # self- and cross-attention, q/k/v/out each (the cross k/v read the projected text, d wide)


def adapter_params(rank: int, d_in: int, d_out: int) -> int:
    """A and B of one targeted d_in -> d_out matrix."""
    return rank * (d_in + d_out)


def _mlp_matrices(width: int, mlp) -> list[tuple[int, int]]:
    return [(width, mlp_first_width(mlp)), (mlp.hidden, width)]


def _modulation_matrix(spec: VideoDiTSpec, block) -> list[tuple[int, int]]:
    mod = block.modulation
    if mod.kind != "per_block":
        return []
    vectors = mod.outputs * spec.width + mod.text_outputs * spec.text_stream_width
    return [(spec.conditioning.width, vectors)]


def block_matrices(spec: VideoDiTSpec, block, targets: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(visual, text) (d_in, d_out) of the matrices LoRA adapts in one block, by the tokens they read: the
    cross-attention's k and v read the text tokens; a single block's matrices read every token (listed visual)."""
    d, a = spec.width, spec.attn_width
    every = targets == "all-linear"
    if isinstance(block, CrossBlock):
        visual = [(d, d)] * (CROSS_BLOCK_ATTENTIONS * QKVO - 2)  # self q, k, v, out; cross q, out
        text = [(d, d)] * 2  # cross k, v
        return visual + (_mlp_matrices(d, block.mlp) + _modulation_matrix(spec, block) if every else []), text
    if isinstance(block, JointBlock):
        streams = joint_streams(spec, block)
        out = []
        for index, stream in enumerate(streams):
            if not stream.own_weights or (index == 1 and not every):
                out.append([])
                continue
            matrices = [(stream.width, a)] * QKV + ([(a, stream.width)] if stream.updated else [])
            if every and stream.updated:
                matrices += _mlp_matrices(stream.width, stream.mlp)
            out.append(matrices)
        return out[0] + (_modulation_matrix(spec, block) if every else []), out[1]
    attention = [(d, d)] * (QKV if block.parallel else QKVO)
    if not every:
        return attention, []
    if block.parallel:
        return attention + [(d, mlp_first_width(block.mlp)), (d + block.mlp.hidden, d)] + _modulation_matrix(spec, block), []
    return attention + _mlp_matrices(d, block.mlp) + _modulation_matrix(spec, block), []


def block_lora_params(spec: VideoDiTSpec, block, training: Training) -> int:
    """Trained LoRA parameters of one block."""
    visual, text = block_matrices(spec, block, training.lora_targets)
    return sum(adapter_params(training.lora_rank, i, o) for i, o in visual + text)


def outside_lora_params(spec: VideoDiTSpec, training: Training) -> int:
    """LoRA outside the blocks: the token refiner's attentions (q, k, v, out of width d each; the refiner's MLP under
    all-linear) and a caption attention pooling's to_q (features -> features; PEFT matches Mochi's
    time_embed.pooler.to_q by its name's end)."""
    pool = adapter_params(training.lora_rank, spec.text_feature_dim, spec.text_feature_dim) if spec.conditioning.caption_pool_heads else 0
    if spec.token_refiner is None:
        return pool
    d, refiner = spec.width, spec.token_refiner
    per_block = QKVO * adapter_params(training.lora_rank, d, d)
    if training.lora_targets == "all-linear":
        per_block += adapter_params(training.lora_rank, d, refiner.mlp_hidden) + adapter_params(training.lora_rank, refiner.mlp_hidden, d)
    return pool + refiner.num_layers * per_block


def gpt_lora_params(spec: GPTSpec, training: Training) -> int:
    """Trained LoRA parameters of one GPT layer: q, k, v, o (+ the MLP's matrices under all-linear)."""
    h, r = spec.hidden_size, training.lora_rank
    kv = h // spec.num_heads * spec.num_kv_heads
    params = 2 * adapter_params(r, h, h) + 2 * adapter_params(r, h, kv)
    if training.lora_targets == "all-linear":
        params += (3 if spec.gated_mlp else 2) * adapter_params(r, h, spec.ffn_hidden_size)
    return params


def gpt_lora_saved_delta_bytes(spec: GPTSpec, training: Training, recompute: str, activation_bytes: int) -> tuple[float, float]:
    """(bytes, of them outside the tensor-parallel regions) a token of a GPT layer saves more (or fewer) under
    LoRA: r a targeted matrix; with attention targets the MLP's inputs (h and f) are no longer saved."""
    if recompute == "full":
        return 0.0, 0.0
    matrices = QKVO + ((3 if spec.gated_mlp else 2) if training.lora_targets == "all-linear" else 0)
    added = matrices * training.lora_rank * activation_bytes
    if recompute == "none" and training.lora_targets == "attention":
        return added - (spec.hidden_size + spec.ffn_hidden_size) * activation_bytes, -spec.hidden_size * activation_bytes
    return added, 0.0

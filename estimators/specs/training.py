"""What a run trains and how it keeps its model states: full training or LoRA, the precision recipe of the
weights and AdamW moments, the optimizer.

Recipes (bytes a trained parameter, before ZeRO/FSDP sharding):
- ``states: mixed`` keeps them as the training stack does (data/stacks/stacks.yaml: Megatron-Core bf16
  weights, fp32 main gradients, fp32 master and moments, 18; FSDP2 fp32 sharded parameters, gradients and
  moments, 16).
- ``states: bf16`` keeps weights, gradients and AdamW moments in bf16 with no fp32 master copy, 8 bytes: the
  fine-tuning recipes that load the model in bf16 and let torch.optim.AdamW create its moments in the
  parameters' dtype (torchtune ``dtype: bf16``; finetrainers' and diffusers' full fine-tuning scripts).
- ``optimizer: adamw-8bit`` stores the two moments in 8 bits (bitsandbytes AdamW8bit, Dettmers et al. 2022,
  block-wise quantisation: 1 byte a moment plus one fp32 scale per 2,048-value block).

LoRA (Hu et al. 2021) trains two matrices A (r x d_in) and B (d_out x r) beside each targeted weight; the
base weights are frozen and held in ``frozen_weights`` (bf16, or NF4 as QLoRA, Dettmers et al. 2023: 4 bits
and a double-quantised scale, 4.127 bits a parameter). Targets: ``attention`` (the q, k, v and output
projections of every attention, diffusers' ``to_q to_k to_v to_out.0``), ``all-linear`` (every matmul of
the blocks, PEFT's ``all-linear`` on a Llama). counts/lora.py counts what is trained and saved.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from estimators.specs.base import Spec
from estimators.specs.bounds import Bound

LoraRank = Annotated[int, Bound(1, 4_096, why="a LoRA rank beyond 4,096 is a full-rank update: train the model fully")]


class Training(Spec):
    """Full training or LoRA, and the precision recipe of the trained weights and their optimizer."""

    method: Literal["full", "lora"] = Field(default="full", description="Train every weight, or LoRA adapters on frozen weights.")
    lora_rank: LoraRank = Field(default=16, description="LoRA rank r (method lora).")
    lora_targets: Literal["attention", "all-linear"] = Field(
        default="attention", description="Matrices LoRA adapts: the attentions' q, k, v and output projections, or every matmul of the blocks.")
    states: Literal["mixed", "bf16"] = Field(
        default="mixed", description="Model states as the training stack keeps them (mixed precision with fp32 master and moments), or "
        "weights, gradients and AdamW moments all in bf16 (fine-tuning recipes).")
    optimizer: Literal["adamw", "adamw-8bit"] = Field(default="adamw", description="AdamW, or AdamW with 8-bit moments (bitsandbytes).")
    frozen_weights: Literal["bf16", "nf4"] = Field(default="bf16", description="How LoRA's frozen base weights are held: bf16, or 4-bit NF4 (QLoRA).")

    @property
    def lora(self) -> bool:
        return self.method == "lora"

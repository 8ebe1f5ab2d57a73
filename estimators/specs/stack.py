"""Training stacks (data/stacks/stacks.yaml): which communication each overlaps with compute, what each
saves for backward and how it keeps its model states.

Each overlap is a named, sourced property of a stack (Megatron-Core / NeMo, Megatron-LM 2021, PyTorch
FSDP2, diffusers under FSDP2, none), not a fitted fraction; step.py turns each into exposed seconds.
saved_activations names an implementation of counts/saved.py; the model-state bytes a parameter
are what the stack keeps before any sharding (memory/per_gpu.py shards them by the ZeRO stage).
"""
from __future__ import annotations

from pydantic import Field

from estimators.specs.base import Spec


class StackProperty(Spec):
    """One property with its source."""

    value: bool | float | str = Field(description="The property.")
    source: str = Field(description="Where it comes from.")
    date: str = Field(description="Version date of the source.")


EAGER_LOSS_SOURCE = "torch.nn.functional.cross_entropy on logits.float(), eager, the whole sequence at once (no torch.compile of the loss)"


class TrainingStack(Spec):
    """How a software stack overlaps communication."""

    name: str = Field(description="Stack name, as --stack takes it.")
    description: str = Field(description="What exactly the entry describes.")
    param_gather_overlap: StackProperty
    grad_reduce_overlap: StackProperty
    grad_bucket_params: StackProperty
    tp_comm_overlap: StackProperty
    cp_comm_overlap: StackProperty
    saved_activations: StackProperty = Field(description="Implementation whose saved tensors count (counts/saved.py IMPLEMENTATIONS).")
    weight_bytes_per_param: StackProperty = Field(description="Bytes a trained weight is held in (sharded under ZeRO-3).")
    master_bytes_per_param: StackProperty = Field(description="Bytes of a separate fp32 master copy (0: the weights are the fp32 copy).")
    grad_bytes_per_param: StackProperty = Field(description="Bytes a gradient is accumulated and reduced in (sharded under ZeRO-2 and 3).")
    optimizer_bytes_per_param: StackProperty = Field(description="AdamW moments (sharded, with the master copy, under ZeRO-1 and up).")
    fp8_weight_bytes_per_param: StackProperty = Field(
        description="Bytes a trained weight is held in under FP8 training (Megatron-Core's fp8_param_gather: FP8; FSDP2 with "
        "torchao float8: the fp32 shard as under BF16).")
    fp8_weight_copies_bytes_per_param: StackProperty = Field(
        description="FP8 copies of the weights the stack keeps besides them under FP8 training (unsharded), bytes a parameter.")
    gradients_persist: StackProperty = Field(
        description="Gradient buffers live through the whole step (true), or are created in backward and freed by the optimizer "
        "step (false: then, without gradient accumulation or pipelining, the activations they replace are gone).")
    pp_keeps_stage_unsharded: StackProperty = Field(
        description="Under pipeline parallelism with ZeRO-3 / FSDP, each stage keeps its parameters gathered and its gradients "
        "unsharded (accumulated in the reduce dtype) from the first micro-batch to the last.")

    loss_compiled: StackProperty = Field(
        default=StackProperty(value=False, source=EAGER_LOSS_SOURCE, date="2024-10"),
        description="The GPT path's cross entropy runs under torch.compile (saves the bf16 logits, not the fp32 log-softmax; "
        "counts/gpt.py LossKernel), or eagerly.")
    loss_chunks: StackProperty = Field(
        default=StackProperty(value=1, source=EAGER_LOSS_SOURCE, date="2024-10"),
        description="Chunks of tokens the output layer and cross entropy run in (torchtune CEWithChunkedOutputLoss: 8); the loss's "
        "backward transient is one chunk's.")

    @property
    def model_state_bytes_per_param(self) -> float:
        """Weights, master copy, gradients and optimizer moments, unsharded."""
        return sum(float(p.value) for p in (self.weight_bytes_per_param, self.master_bytes_per_param, self.grad_bytes_per_param,
                                             self.optimizer_bytes_per_param))

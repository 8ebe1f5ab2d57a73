"""Model states a parameter as a stack and a training recipe keep them, the runtime's own memory, activation
offload and what makes memory uncertain (the per-GPU sum is in memory/per_gpu.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.specs.stack import TrainingStack
from estimators.specs.training import Training
from estimators.units import BF16_BYTES

# Planning assumptions, not measurements: CUDA context + NCCL buffers, and caching-allocator
# fragmentation as a share of everything else. Stated in the plan's assumptions block.
RUNTIME_RESERVED_BYTES = 2 * 1024**3
FRAGMENTATION_FRACTION = 0.10
# The range of that share (planning assumption): PyTorch's expandable_segments leaves almost none; a
# long run of varying shapes without it several tens of percent of what is allocated.
FRAGMENTATION_RANGE = (0.02, 0.20)
# How far the saved activations of an implementation may be off, as a share: diffusers within the 3% its
# full-size test holds (tests/test_fullsize_memory.py, measured within 0.5%); the reference model within
# the 1% of tests/test_profiling.py, rounded up for other shapes; Megatron-Core/TE derived from published
# formulas only (Korthikanti et al. 2022), never measured here.
IMPLEMENTATION_UNCERTAINTY = {"diffusers": 0.03, "pytorch-reference": 0.05, "megatron-te": 0.15,
                              "diffusers-autocast": 0.03}  # the diffusers classes; autocast's change checked on a block
# Weights cast once a step (cached across micro-batches), the FP8 copy and its transpose kept (TE).
FP8_WEIGHT_COPIES_BYTES_PER_PARAM = 2
# Offloaded activations: the layer computing and the one being copied stay on the GPU.
OFFLOAD_RESIDENT_LAYERS = 2
# The 'bf16' recipe: weights, gradients and the two AdamW moments in bf16, no master copy.
BF16_RECIPE = {"weight": BF16_BYTES, "master": 0, "gradient": BF16_BYTES, "moments": 2 * BF16_BYTES}
# bitsandbytes AdamW8bit: each moment one byte, plus an fp32 absmax per block of 2,048 values (Dettmers et
# al. 2022, "8-bit Optimizers via Block-wise Quantization", sec. 2: block size 2048).
EIGHT_BIT_MOMENT_BYTES = 1 + 4 / 2048
ADAM_MOMENTS = 2
# LoRA's frozen base weights: bf16, or NF4 with double-quantised scales, 4.127 bits a parameter (Dettmers et
# al. 2023, QLoRA, sec. 3: 0.127 bits of constants a parameter).
FROZEN_BYTES_PER_PARAM = {"bf16": BF16_BYTES, "nf4": 4.127 / 8}


@dataclass(frozen=True)
class StateBytes:
    """Bytes a parameter takes in each model state, before ZeRO/FSDP sharding."""

    weight: float  # a trained weight as held (sharded under ZeRO-3)
    master: float  # a separate fp32 master copy (sharded with the optimizer)
    gradient: float  # sharded under ZeRO-2 and 3
    moments: float  # AdamW's two moments (sharded under ZeRO-1 and up)
    frozen: float  # a frozen (LoRA base) weight


def state_bytes(stack: TrainingStack, training: Training) -> StateBytes:
    """Model states a parameter under a stack and a recipe (specs/training.py)."""
    if training.states == "bf16":
        weight, master, gradient, moments = (BF16_RECIPE[k] for k in ("weight", "master", "gradient", "moments"))
    else:
        weight, master, gradient, moments = (float(p.value) for p in (stack.weight_bytes_per_param, stack.master_bytes_per_param,
                                                                       stack.grad_bytes_per_param, stack.optimizer_bytes_per_param))
    if training.optimizer == "adamw-8bit":
        moments = ADAM_MOMENTS * EIGHT_BIT_MOMENT_BYTES
    return StateBytes(weight=weight, master=master, gradient=gradient, moments=moments, frozen=FROZEN_BYTES_PER_PARAM[training.frozen_weights])

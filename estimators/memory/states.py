"""Bytes of model states a parameter, and the runtime's own memory (the per-GPU sum is in memory/per_gpu.py).

Sources: mixed-precision Adam model states 16 bytes/param (Rajbhandari et al. 2020, ZeRO, sec. 3.1).
"""
from __future__ import annotations

from estimators.units import BF16_BYTES, FP32_BYTES

# Mixed-precision AdamW (ZeRO sec. 3.1): bf16 weights 2 + bf16 grads 2 + fp32 master, m, v 12 (optimizer_bytes_per_param).
WEIGHT_BYTES_PER_PARAM = BF16_BYTES
GRAD_BYTES_PER_PARAM = BF16_BYTES


def optimizer_bytes_per_param(state_bytes: int) -> int:
    """AdamW's fp32 momentum and variance, plus an fp32 master copy when weights are kept in 16 bits."""
    return 2 * FP32_BYTES + (FP32_BYTES if state_bytes < FP32_BYTES else 0)


# Planning assumptions, not measurements: CUDA context + NCCL buffers, and caching-allocator
# fragmentation as a share of everything else. Stated in the plan's assumptions block.
RUNTIME_RESERVED_BYTES = 2 * 1024**3
FRAGMENTATION_FRACTION = 0.10
# Weights cast once a step (cached across micro-batches), the FP8 copy and its transpose kept (TE).
FP8_WEIGHT_COPIES_BYTES_PER_PARAM = 2

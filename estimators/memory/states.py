"""The runtime's own memory, activation offload and what makes memory uncertain (the per-GPU sum is in
memory/per_gpu.py; model-state bytes a parameter are a property of the training stack, data/stacks).
"""
from __future__ import annotations

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
IMPLEMENTATION_UNCERTAINTY = {"diffusers": 0.03, "pytorch-reference": 0.05, "megatron-te": 0.15}
# Weights cast once a step (cached across micro-batches), the FP8 copy and its transpose kept (TE).
FP8_WEIGHT_COPIES_BYTES_PER_PARAM = 2
# Offloaded activations: the layer computing and the one being copied stay on the GPU.
OFFLOAD_RESIDENT_LAYERS = 2

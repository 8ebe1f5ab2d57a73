"""One Mochi block's saved activations (diffusers' MochiTransformer3DModel at full size in bf16, the default clip,
no recompute) under the conventions a figure can use: each stored tensor counted once or every saved view and copy
counted again, and diffusers' RMSNorm / MochiRMSNorm eager (their own code, as a CUDA run executes it: the
convention tests/saved_fullsize.py measures and counts/saved.py counts) or swapped for a fused RMSNorm (its input,
scale and an fp32 rstd: a what-if); attention is the fused kernel's in every case. Needs the test extras (torch,
diffusers). Printed (diffusers 0.42.1): each tensor once, eager 13.10 GB (7.70 fp32), issue 18's figure; fused
10.90 GB (5.50 fp32): the 2.19 GB between them is norm_q's and norm_k's fp32 input copy and fp32 normalised tensor,
(1, 44520, 24, 128) x 4 bytes = 547 MB each.

    PYTHONPATH=$PWD python3 -m benchmarks.mochi_block_conventions
"""
from __future__ import annotations

from collections import defaultdict

import torch

from tests import saved_fullsize as harness
from tests.test_fullsize_memory import MOCHI

BLOCK = "transformer_blocks.1"  # a middle block (the first and last differ only in their text stream)


def block_saved_gb(model, latent, text_tokens: int, once: bool, fused_norm: bool) -> tuple[float, float]:
    """(all, fp32) GB one block saves for backward under the convention."""
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    seen, total, fp32 = set(), defaultdict(int), defaultdict(int)
    modules, handles = harness._module_tracker(model)

    def pack(tensor):
        key = tensor.untyped_storage()._cdata
        if key in params or (once and key in seen):
            return tensor
        seen.add(key)
        part = modules[-1] if modules else "loss"
        size = tensor.untyped_storage().nbytes() if once else tensor.numel() * tensor.element_size()
        total[part] += size
        if tensor.dtype == torch.float32:
            fp32[part] += size
        return tensor

    kernels = harness.fused_kernels(fused_diffusers_norms=fused_norm)
    try:
        with harness.ind.meta_counting(), kernels, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            harness.mse_loss_fp32(harness.training_call(model, latent, text_tokens)())
    finally:
        for handle in handles:
            handle.remove()
    return total[BLOCK] / 1e9, fp32[BLOCK] / 1e9


def main() -> None:
    _, cls_name, config, latent = MOCHI
    model = harness.bf16_model(cls_name, config)
    print(f"{'convention':52s} {'GB':>6s} {'of it fp32':>11s}")
    for once in (True, False):
        for fused_norm in (True, False):
            gb, fp32 = block_saved_gb(model, latent, 256, once, fused_norm)
            label = f"{'each tensor once' if once else 'views and copies again'}, {'fused' if fused_norm else 'eager'} RMSNorm"
            print(f"{label:52s} {gb:6.2f} {fp32:11.2f}")


if __name__ == "__main__":
    main()

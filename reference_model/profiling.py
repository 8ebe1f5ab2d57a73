"""Measuring the reference DiT: bytes each block keeps for backward, and forward/backward times.

Saved bytes (CPU has no allocator statistics): with no recompute, every tensor autograd saves inside a
block, caught by torch.autograd.graph.saved_tensors_hooks around the block and counted once per
storage (parameters and the RoPE tables shared by all blocks excluded). Under full recompute the
checkpoint keeps only the block's inputs (x, y); under selective recompute also the outputs its policy
caches (matmuls, attention), read from the checkpoint's own cache after the forward.
"""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from functools import partial

import torch
from torch.utils.checkpoint import checkpoint, create_selective_checkpoint_contexts

from reference_model import dit as dit_module

REPEATS = 5
WARMUP = 2


def _storage_bytes(tensors, exclude: set[int]) -> dict[int, int]:
    out = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            storage = t.untyped_storage()
            if storage.data_ptr() not in exclude:
                out[storage.data_ptr()] = storage.nbytes()
    return out


@contextmanager
def measuring_blocks(model: dit_module.AsymmDiT, sink: list[int]):
    """While active, each block's kept bytes are appended to ``sink`` (one entry per block call)."""
    exclude = {p.untyped_storage().data_ptr() for p in model.parameters()}
    original = dit_module.run_block

    def measured(block, recompute, x, y, cond, rope, mask):
        shared = exclude | {t.untyped_storage().data_ptr() for t in (cond, *(rope or ()), mask)}  # per step, not per block
        if recompute == "none":
            saved: dict[int, int] = {}

            def pack(t):
                saved.update(_storage_bytes([t], shared))
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                out = block(x, y, cond, rope, mask)
            sink.append(sum(saved.values()))
            return out
        kept = _storage_bytes([x, y], shared)
        if recompute == "full":
            out = checkpoint(block, x, y, cond, rope, mask, use_reentrant=False)
        else:
            modes = []

            def context():
                modes.append(create_selective_checkpoint_contexts(dit_module._save_matmuls))
                return modes[-1]

            out = checkpoint(block, x, y, cond, rope, mask, use_reentrant=False, context_fn=context)
            cache = modes[0][0].storage
            kept.update(_storage_bytes([t for entry in cache.values() for outs in entry.values() for t in _flatten(outs)], shared))
        sink.append(sum(kept.values()))
        return out

    dit_module.run_block = measured
    try:
        yield
    finally:
        dit_module.run_block = original


def _flatten(value):
    """Tensors inside a cache entry (tuples of _VersionWrapper holding tensors; placeholders for
    recomputed ops hold none)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(getattr(value, "val", None), torch.Tensor):
        yield value.val
    elif isinstance(value, torch.Tensor):
        yield value


def block_saved_bytes(model: dit_module.AsymmDiT, inputs: tuple) -> list[int]:
    """Bytes each block keeps for backward in one forward of ``inputs``."""
    sink: list[int] = []
    with measuring_blocks(model, sink):
        model(*inputs)
    return sink


def time_step(model: dit_module.AsymmDiT, inputs: tuple, target: torch.Tensor, repeats: int = REPEATS, optimiser=None) -> dict:
    """Median and spread of forward and whole-step seconds (forward, backward, optimizer), after warm-up."""
    forward, total = [], []
    for i in range(WARMUP + repeats):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        out = model(*inputs)
        middle = time.perf_counter()
        torch.nn.functional.mse_loss(out, target).backward()
        if optimiser is not None:
            optimiser.step()
        end = time.perf_counter()
        if i >= WARMUP:
            forward.append(middle - start)
            total.append(end - start)
    return {
        "forward_s": statistics.median(forward), "forward_spread_s": max(forward) - min(forward),
        "step_s": statistics.median(total), "step_spread_s": max(total) - min(total),
    }


def time_blocks(model: dit_module.AsymmDiT, inputs: tuple, repeats: int = REPEATS) -> list[dict]:
    """Median and spread of each block's forward and backward seconds (module hooks time each call)."""
    times = [{"forward": [], "backward": []} for _ in model.blocks]
    handles = []
    for i, block in enumerate(model.blocks):
        handles.append(block.register_forward_pre_hook(partial(_stamp, times[i], "forward", True)))
        handles.append(block.register_forward_hook(partial(_stamp_end, times[i], "forward")))
        handles.append(block.register_full_backward_pre_hook(partial(_stamp, times[i], "backward", True)))
        handles.append(block.register_full_backward_hook(partial(_stamp_end, times[i], "backward")))
    try:
        for _ in range(WARMUP + repeats):
            model.zero_grad(set_to_none=True)
            model(*inputs).square().mean().backward()
    finally:
        for h in handles:
            h.remove()
    return [
        {**{f"{k}_s": statistics.median(t[k][-repeats:]) for k in ("forward", "backward")},
         **{f"{k}_spread_s": max(t[k][-repeats:]) - min(t[k][-repeats:]) for k in ("forward", "backward")}}
        for t in times
    ]


def _stamp(record, phase, _start, *args):
    record[f"{phase}_t0"] = time.perf_counter()


def _stamp_end(record, phase, *args):
    record[phase].append(time.perf_counter() - record.pop(f"{phase}_t0"))

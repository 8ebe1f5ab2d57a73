"""A few training steps of the reference DiT on several CPU processes (gloo), under DDP or FSDP2,
recording the bytes of every collective. Run by torchrun; rank 0 writes the record as JSON.

DDP's gradient all-reduce runs inside its C++ reducer, so a communication hook records each bucket;
FSDP2's all-gathers and reduce-scatters are wrapped where torch.distributed defines them. Bytes are
the full buffer of each call (the gathered output, the reduce-scatter input, the all-reduced bucket).

Usage: torchrun --nproc-per-node 2 -m reference_model.distributed --mode ddp --out record.json
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from reference_model.dit import AsymmDiT
from reference_model.system import load_config

BATCH_PER_RANK = 2


def distributed_spec(config: str):
    """The config's DiT without learned RoPE: every parameter's first dimension then divides by 4, so
    FSDP shards without padding (padding is not modelled by the estimator)."""
    return load_config(config).dit.model_copy(update={"learned_rope": False})


def recorded_collectives(records: dict) -> None:
    """Wrap FSDP2's collectives so each call adds its full buffer's bytes to ``records``.

    FSDP2 calls torch.distributed.all_gather_single / reduce_scatter_single (older releases:
    all_gather_into_tensor / reduce_scatter_tensor); whichever this torch has is wrapped.
    """
    for names, kind, buffer_arg in ((("all_gather_single", "all_gather_into_tensor"), "all_gather", 0),
                                    (("reduce_scatter_single", "reduce_scatter_tensor"), "reduce_scatter", 1)):
        for name in names:
            if hasattr(dist, name):
                setattr(dist, name, _counting(getattr(dist, name), kind, buffer_arg, records))


def _counting(collective, kind: str, buffer_arg: int, records: dict):
    """``collective`` that first adds the bytes of its full buffer: the gathered output (argument 0)
    or the reduce-scatter input (argument 1), given by position or keyword."""
    keywords = ("output_tensor", "output") if buffer_arg == 0 else ("input_tensor", "input")

    def wrapper(*args, **kwargs):
        buffer = args[buffer_arg] if len(args) > buffer_arg else next(kwargs[k] for k in keywords if k in kwargs)
        records[kind] += buffer.numel() * buffer.element_size()
        return collective(*args, **kwargs)

    return wrapper


def wrap(model: AsymmDiT, mode: str, records: dict) -> torch.nn.Module:
    if mode == "ddp":
        ddp = torch.nn.parallel.DistributedDataParallel(model)

        def hook(state, bucket):
            records["all_reduce"] += bucket.buffer().numel() * bucket.buffer().element_size()
            return allreduce_hook(state, bucket)

        ddp.register_comm_hook(None, hook)
        return ddp
    from torch.distributed.fsdp import fully_shard

    recorded_collectives(records)
    for block in model.blocks:
        fully_shard(block)
    return fully_shard(model)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("ddp", "fsdp"), required=True)
    parser.add_argument("--config", default="default")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    spec = distributed_spec(args.config)
    model = AsymmDiT(spec)
    params = sum(p.numel() for p in model.parameters())
    records: dict = defaultdict(int)
    wrapped = wrap(model, args.mode, records)
    optimiser = torch.optim.AdamW(wrapped.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(rank)
    per_step = []
    for _ in range(args.steps):
        records.clear()
        z = torch.randn(BATCH_PER_RANK, spec.in_channels, 4, 4, 4, generator=generator)
        text = torch.randn(BATCH_PER_RANK, spec.max_text_tokens, spec.text_feature_dim, generator=generator)
        mask = torch.ones(BATCH_PER_RANK, spec.max_text_tokens, dtype=torch.bool)
        loss = wrapped(z, torch.rand(BATCH_PER_RANK, generator=generator), text, mask).square().mean()
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        per_step.append(dict(records))
    if rank == 0:
        args.out.write_text(json.dumps({"mode": args.mode, "world_size": world, "parameters": params, "bytes_per_param": 4, "steps": per_step}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

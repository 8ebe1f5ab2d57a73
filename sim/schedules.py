"""Pipeline schedules: the order in which each stage runs forward (F) and backward (B) chunks.

GPipe (Huang et al. 2019): all forwards, then all backwards. 1F1B (Narayanan et al. 2021, PipeDream-
Flush): p - s - 1 warm-up forwards on stage s, then one forward and one backward alternately, then the
remaining backwards. Interleaved 1F1B (Narayanan et al. 2021, sec. 2.2.2): each stage holds v model
chunks; micro-batches go round in groups of p, warm-up (p - s - 1) * 2 + (v - 1) * p.
"""
from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("gpipe", "1f1b", "interleaved")


@dataclass(frozen=True)
class Op:
    """One unit of work on a stage: forward or backward of micro-batch ``mb`` through model chunk ``chunk``."""

    kind: str  # "F" or "B"
    mb: int
    chunk: int


def _chunk_of(k: int, p: int, v: int, forward: bool) -> tuple[int, int]:
    """(micro-batch, chunk) of the k-th forward/backward of a stage under interleaving (Megatron order)."""
    group = k // (p * v)
    in_group = k % (p * v)
    chunk = in_group // p
    if not forward:
        chunk = v - 1 - chunk
    return group * p + in_group % p, chunk


def stage_ops(schedule: str, stage: int, p: int, m: int, v: int = 1) -> list[Op]:
    """The op sequence of pipeline stage ``stage`` for m micro-batches."""
    if schedule == "gpipe":
        return [Op("F", i, 0) for i in range(m)] + [Op("B", i, 0) for i in range(m)]
    if schedule == "1f1b":
        v = 1
    elif schedule != "interleaved":
        raise ValueError(f"unknown schedule {schedule}; expected one of {SCHEDULES}")
    total = m * v
    if schedule == "interleaved" and m % p:
        raise ValueError("interleaved 1F1B needs micro-batches divisible by pipeline stages")
    warmup = min(total, (p - stage - 1) * 2 + (v - 1) * p) if v > 1 else min(total, p - stage - 1)
    ops, f, b = [], 0, 0
    for _ in range(warmup):
        ops.append(Op("F", *_chunk_of(f, p, v, True)))
        f += 1
    while f < total:
        ops.append(Op("F", *_chunk_of(f, p, v, True)))
        f += 1
        ops.append(Op("B", *_chunk_of(b, p, v, False)))
        b += 1
    while b < total:
        ops.append(Op("B", *_chunk_of(b, p, v, False)))
        b += 1
    return ops

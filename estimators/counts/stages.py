"""What each pipeline rank holds and runs: its own layers, not a per-layer average (HunyuanVideo's 20
dual-stream blocks hold 2.4x the weights of each of its 40 single-stream ones), the embedders on the first
stage, the final layer (a GPT's output layer and logits) and the loss on the last.

The layer sequence is cut into pp x vpp contiguous chunks of equal counts, the first chunks one layer more
when they do not divide (Megatron-Core's default split; its uneven first/last-stage options are not
modelled); chunk c runs on pipeline rank c mod pp (the interleaved schedule, Narayanan et al. 2021, sec.
2.2.2; vpp = 1 is 1F1B). Every figure is a sample's (one micro-batch of one sample); the time and memory
models scale them by the micro-batch and the split over tp and cp.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from estimators.counts.gpt import MODES
from estimators.counts.problem import TrainingProblem
from estimators.specs.layout_arrays import LayoutArrays

PAIR_CODE = 1 << 20  # (pp, vpp) as one integer pp x PAIR_CODE + vpp (vpp is far below it)


def chunk_sizes(num_layers: int, chunks: int) -> list[int]:
    """Layers of each of ``chunks`` contiguous chunks: equal, the first ones one more when they do not divide."""
    base, extra = divmod(num_layers, chunks)
    return [base + (1 if c < extra else 0) for c in range(chunks)]


@dataclass(frozen=True)
class RankLoad:
    """What one pipeline rank holds and runs for one sample (arrays: one element per rank, or per layout)."""

    layers: np.ndarray
    params: np.ndarray  # the rank's parameters, layers and outside parts
    outside_params: np.ndarray  # of them, outside the layers (embedders on the first rank, final layer on the last)
    trained_params: np.ndarray
    largest_layer_params: np.ndarray
    linear_flops: np.ndarray  # (streams, n): forward matmul FLOPs of the rank's layers
    attention_flops: np.ndarray
    cross_attention_flops: np.ndarray
    outside_flops: np.ndarray  # embedders on the first rank, final layer / logits on the last
    saved: dict  # recompute mode -> bytes the rank's layers save, all streams
    fp8_saved_less: dict  # recompute mode -> of those, what Transformer Engine keeps in FP8 saves less under FP8
    replicated: dict  # recompute mode -> of those, outside the tensor-parallel regions
    tp_collectives: np.ndarray  # (streams, n): reductions a pass, summed over the rank's layers
    outside_saved: np.ndarray  # saved outside the layers (embedders, RoPE tables, final layer, loss)
    loss_working: np.ndarray  # transient at the loss (last rank)

    @property
    def forward_flops(self) -> np.ndarray:
        """The rank's forward work: what sets its pace."""
        return self.linear_flops.sum(axis=0) + self.attention_flops + self.cross_attention_flops + self.outside_flops


def rank_loads(prob: TrainingProblem, pp: int, vpp: int) -> RankLoad:
    """Every rank of a pipeline of ``pp`` ranks with ``vpp`` chunks each (arrays of length pp)."""
    kinds, streams = prob.layer_kinds, prob.streams
    owner = np.repeat(np.arange(pp * vpp) % pp, chunk_sizes(len(prob.layer_sequence), pp * vpp))
    per_kind = {
        "params": np.array([k.params for k in kinds], dtype=float),
        "trained": np.array([k.trained_params for k in kinds], dtype=float),
        "attention": np.array([k.attention_flops for k in kinds], dtype=float),
        "cross": np.array([k.cross_attention_flops for k in kinds], dtype=float),
    }
    linear = np.array([[k.linear_flops[s] for k in kinds] for s in range(len(streams))], dtype=float)
    collectives = np.array([[k.tp_collectives[s] for k in kinds] for s in range(len(streams))], dtype=float)
    saved = {m: np.array([sum(s.tokens * k.saved_bytes[i][m] for i, s in enumerate(streams)) for k in kinds]) for m in MODES}
    replicated = {m: np.array([sum(s.tokens * k.replicated_bytes[i][m] for i, s in enumerate(streams)) for k in kinds]) for m in MODES}
    fp8_less = {m: np.array([sum(s.tokens * k.fp8_saved_less[i][m] for i, s in enumerate(streams)) if k.fp8_saved_less else 0.0
                             for k in kinds]) for m in MODES}
    sequence = np.array(prob.layer_sequence)

    def per_rank(values: np.ndarray) -> np.ndarray:
        return np.bincount(owner, weights=values[sequence], minlength=pp)

    out = prob.outside
    first, last = np.zeros(pp), np.zeros(pp)
    first[0], last[-1] = 1.0, 1.0
    largest = np.zeros(pp)
    np.maximum.at(largest, owner, per_kind["params"][sequence])
    outside_params = first * out.first_params + last * out.last_params
    return RankLoad(
        layers=np.bincount(owner, minlength=pp).astype(float),
        params=per_rank(per_kind["params"]) + outside_params,
        outside_params=outside_params,
        trained_params=per_rank(per_kind["trained"]) + first * out.first_trained_params + last * out.last_trained_params,
        largest_layer_params=largest,
        linear_flops=np.array([per_rank(row) for row in linear]),
        attention_flops=per_rank(per_kind["attention"]),
        cross_attention_flops=per_rank(per_kind["cross"]),
        outside_flops=first * out.first_flops + last * out.last_flops,
        saved={m: per_rank(v) for m, v in saved.items()},
        replicated={m: per_rank(v) for m, v in replicated.items()},
        fp8_saved_less={m: per_rank(v) for m, v in fp8_less.items()},
        tp_collectives=np.array([per_rank(row) for row in collectives]),
        outside_saved=first * out.first_saved_bytes + last * out.last_saved_bytes + out.every_saved_bytes,
        loss_working=last * out.loss_working_bytes,
    )


def _take(load: RankLoad, index) -> RankLoad:
    """The load at ``index`` along the last axis."""
    values = {}
    for f in fields(load):
        value = getattr(load, f.name)
        values[f.name] = {m: v[..., index] for m, v in value.items()} if isinstance(value, dict) else value[..., index]
    return RankLoad(**values)


def _stack(loads: list[RankLoad]) -> RankLoad:
    """One load whose last axis runs over ``loads`` (each a single rank)."""
    values = {}
    for f in fields(RankLoad):
        items = [getattr(load, f.name) for load in loads]
        values[f.name] = {m: np.stack([i[m] for i in items], axis=-1) for m in items[0]} if isinstance(items[0], dict) else np.stack(items, axis=-1)
    return RankLoad(**values)


@dataclass(frozen=True)
class PipelineRanks:
    """The pipeline ranks of many layouts: rank r of every layout (where r < pp), and the rank that sets the pace."""

    groups: dict  # (pp, vpp) -> RankLoad over that pipeline's ranks
    group_of: np.ndarray  # index into keys, per layout
    keys: tuple  # the (pp, vpp) of each group
    pp: np.ndarray
    empty: RankLoad  # one rank of no pipeline: the shapes of every field

    @classmethod
    def of(cls, prob: TrainingProblem, lay: LayoutArrays) -> "PipelineRanks":
        codes, group_of = np.unique(np.asarray(lay.pp, dtype=np.int64) * PAIR_CODE + lay.vpp, return_inverse=True)
        keys = tuple((int(c) // PAIR_CODE, int(c) % PAIR_CODE) for c in codes)
        groups = {key: rank_loads(prob, *key) for key in keys}
        return cls(groups=groups, group_of=np.asarray(group_of).ravel(), keys=keys, pp=np.asarray(lay.pp), empty=rank_loads(prob, 1, 1))

    @property
    def max_pp(self) -> int:
        return max(p for p, _ in self.keys)

    def select(self, rank_of: dict) -> tuple[RankLoad, np.ndarray]:
        """(every layout's load on the rank ``rank_of[(pp, vpp)]`` of its pipeline, that rank's index per layout)."""
        if not self.keys:  # no layouts: empty arrays of every field
            return _take(self.empty, np.zeros(0, dtype=int)), np.zeros(0, dtype=int)
        stacked = _stack([_take(self.groups[key], rank_of[key]) for key in self.keys])
        return _take(stacked, self.group_of), np.array([rank_of[key] for key in self.keys])[self.group_of]

    def rank(self, r: int) -> RankLoad:
        """Rank r of every layout (the last rank where a layout has fewer: ``self.pp > r`` says where it has one)."""
        return self.select({key: min(r, key[0] - 1) for key in self.keys})[0]

    def pace(self) -> tuple[RankLoad, np.ndarray]:
        """(the rank with the most forward work of every layout, its index): the rank that sets the pipeline's pace."""
        return self.select({key: int(np.argmax(self.groups[key].forward_flops)) for key in self.keys})

    def memory_candidates(self) -> list[tuple[RankLoad, np.ndarray]]:
        """The ranks among which one needs the most memory: the first (the most micro-batches in flight and the
        embedders), the last (the final layer and the loss), the one holding the most parameters, and those whose
        saved bytes times the 1F1B micro-batches in flight (pp - rank) are largest without and with full recompute.
        Memory falls with the rank index at equal contents, so these cover the stages of the presets and GPTs
        (tests/test_pipeline_stages.py checks the candidates against every rank)."""
        def in_flight_weighted(mode):
            return lambda g: int(np.argmax(g.saved[mode] * (len(g.layers) - np.arange(len(g.layers)))))
        rules = (lambda g: 0, lambda g: len(g.layers) - 1, lambda g: int(np.argmax(g.params)), in_flight_weighted("none"),
                 in_flight_weighted("full"))
        choices = {tuple(rule(self.groups[key]) for key in self.keys) for rule in rules}
        return [self.select(dict(zip(self.keys, choice))) for choice in sorted(choices)]

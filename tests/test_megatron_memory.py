"""Megatron-Core / Transformer Engine activations against their published formulas (they cannot run here).

Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", Table 2: activation
bytes of one transformer layer (s sequence, b micro-batch, h width, a heads, t tensor-parallel degree):
  tensor parallel (baseline)                  s b h (10 + 24/t + 5 a s/(h t))
  tensor + sequence parallel                  s b h (34/t + 5 a s/(h t))
  tensor parallel + selective recompute       s b h (10 + 24/t)
  tensor + sequence parallel + selective      s b h (34/t)
  full recompute (its input; split with sequence parallelism)   2 s b h (/ t)
For GPT-3 175B (h 12,288, a 96, s 2,048, b 1) on t = 8: 5 a s / h = 80, so the four rows are 2,048 x 12,288 x
(10 + 3 + 10) = 578,813,952; x (4.25 + 10) = 358,612,992; x 13 = 327,155,712; x 4.25 = 106,954,752 bytes; full
recompute 2 x 2,048 x 12,288 = 50,331,648 bytes, / 8 with sequence parallelism = 6,291,456.

Micro-batches in flight on the first stage: Megatron-LM megatron/training/theoretical_memory_usage.py multiplies
the layers' activations (all num_layers of them: L/p layers x p micro-batches) by the interleaved schedule's
penalty 1 + (p - 1)/(p v) (Korthikanti et al. 2022, sec. 4.2.3), and without interleaving by min(1, m/p).
"""
import numpy as np
import pytest

from estimators.catalog.stacks import load_stack
from estimators.counts.problem import gpt_problem
from estimators.counts.stages import PipelineRanks
from estimators.memory.per_gpu import in_flight, rank_activations
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays
from estimators.specs.models import GPTSpec

GPT3 = GPTSpec(num_layers=96, hidden_size=12288, num_heads=96, num_kv_heads=96, ffn_hidden_size=49152, gated_mlp=False,
               vocab_size=51200, seq_len=2048)
SBH = 2048 * 12288


def _layouts(n: int, **columns) -> LayoutArrays:
    base = dict(tp=8, pp=1, cp=1, dp=1, zero=1, micro_batch=1, recompute=RECOMPUTE_CODES["none"], vpp=1, cp_ring=False)
    return LayoutArrays(**{k: np.full(n, v) for k, v in base.items()} | {k: np.asarray(v) for k, v in columns.items()})


def _per_layer(lay: LayoutArrays) -> np.ndarray:
    """Saved bytes a GPU of one layer (the first stage's activations, outside parts removed, over its layers)."""
    prob = gpt_problem(GPT3, flash_attention=False, implementation="megatron-te")
    load = PipelineRanks.of(prob, lay).rank(0)
    activations = rank_activations(prob, lay, load, np.ones(len(lay)))
    return (activations - load.outside_saved * lay.micro_batch / (lay.tp * lay.cp)) / load.layers


def test_gpt3_layer_matches_korthikanti_table_2():
    none, selective, full = (RECOMPUTE_CODES[m] for m in ("none", "selective", "full"))
    lay = _layouts(6, recompute=[none, none, selective, selective, full, full], sp=[False, True, False, True, False, True])
    got = _per_layer(lay)
    expected = [SBH * (10 + 24 / 8 + 80 / 8), SBH * (34 / 8 + 80 / 8), SBH * (10 + 24 / 8), SBH * 34 / 8, 2 * SBH, 2 * SBH / 8]
    # full recompute also holds one layer's full activations while it runs backward: out of the per-layer figure
    got[4:] -= _per_layer(_layouts(2, sp=[False, True]))[:2] / GPT3.num_layers
    assert got == pytest.approx(expected, rel=1e-12)


def test_first_stage_in_flight_follows_megatron():
    lay = _layouts(4, pp=[8, 8, 8, 8], vpp=[1, 2, 3, 6], tp=[8] * 4)
    m = np.full(4, 64.0)
    # 1F1B: p = 8 micro-batches; interleaved: p (1 + (p - 1)/(p v)) = 8 + 7/v
    assert in_flight(lay, 0, m).tolist() == pytest.approx([8, 8 + 7 / 2, 8 + 7 / 3, 8 + 7 / 6])
    # more than 1F1B, less the more chunks; the last stage holds one micro-batch under 1F1B
    assert in_flight(lay, 7, m)[0] == 1
    few = in_flight(_layouts(1, pp=[8]), 0, np.array([3.0]))
    assert few.tolist() == [3]  # fewer micro-batches than stages: min(1, m/p) of the layers


def test_interleaved_first_stage_activations_match_the_penalty():
    prob = gpt_problem(GPT3, flash_attention=True, implementation="megatron-te")
    lay = _layouts(2, pp=[8, 8], vpp=[1, 3], recompute=[RECOMPUTE_CODES["selective"]] * 2, sp=[True, True])
    ranks = PipelineRanks.of(prob, lay)
    flight = in_flight(lay, 0, np.full(2, 64.0))
    layers_only = [rank_activations(prob, lay, ranks.rank(0), flight)[i] - ranks.rank(0).outside_saved[i] / 8 * flight[i] for i in (0, 1)]
    # 12 layers a stage x 8 micro-batches = all 96 layers' selective activations (34 s b h / t each), x 1 + 7/24 interleaved
    per_layer = SBH * 34 / 8
    assert layers_only == pytest.approx([96 * per_layer, 96 * per_layer * (1 + 7 / 24)], rel=1e-12)


def test_distributed_optimizer_keeps_six_plus_twelve_over_dp_bytes():
    stack = load_stack("megatron-core")
    # theoretical_memory_usage.py: 18 bytes a parameter without the distributed optimizer, 6 + 12/dp with it
    assert stack.model_state_bytes_per_param == 18
    assert float(stack.weight_bytes_per_param.value) + float(stack.grad_bytes_per_param.value) == 6

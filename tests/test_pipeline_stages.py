"""Pipeline stages that differ (issue 19, item 4): each rank holds and runs its own blocks, the embedders on the
first stage and the final layer on the last, not a per-layer average.

HunyuanVideo (diffusers HunyuanVideoTransformer3DModel at its published config): 20 dual-stream blocks of
339,831,296 parameters and 40 single-stream blocks of 141,591,808 (2.40x), embedders (patch and caption
projections, token refiner, timestep/guidance/pooled-text MLPs) 341,637,120, final layer 19,077,184
(tests/test_video_dit_exact.py checks these counts against diffusers). Each block of either kind does the
same forward work on the default clip (129 x 720 x 1280: 118,800 visual + 256 text tokens): 26,907,299,020,800
matmul FLOPs on the visual tokens, 57,982,058,496 on the text tokens, 174,174,180,999,168 in attention.
"""
import numpy as np
import pytest

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.counts.problem import video_problem
from estimators.counts.stages import chunk_sizes, rank_loads
from estimators.search.evaluate import evaluate
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings

DOUBLE, SINGLE = 339_831_296, 141_591_808
EMBEDDERS, FINAL = 341_637_120, 19_077_184
LINEAR = (26_907_299_020_800, 57_982_058_496)
ATTENTION = 174_174_180_999_168


def _hunyuan():
    system = load_model("hunyuanvideo-13b")
    clip = system.default_clip
    stage = TrainingStage(frames=clip.frames, height=clip.height, width=clip.width, text_tokens=clip.text_tokens, steps=1, global_batch=64)
    return video_problem(system, stage, Workload(stages=(stage,)), implementation="megatron-te")


def test_chunks_split_contiguously_the_first_ones_longer():
    assert chunk_sizes(60, 4) == [15, 15, 15, 15]
    assert chunk_sizes(70, 12) == [6] * 10 + [5] * 2  # BLOOM's 70 layers on 12 stages


def test_hunyuan_two_stages_hold_their_own_blocks():
    prob = _hunyuan()
    loads = rank_loads(prob, pp=2, vpp=1)
    # rank 0: blocks 0-29 = the 20 double and 10 single, and the embedders: 20 x 339,831,296 + 10 x 141,591,808
    # + 341,637,120 = 8,554,181,120; rank 1: the other 30 single blocks and the final layer: 30 x 141,591,808
    # + 19,077,184 = 4,266,831,424. A per-layer average would give each 6,410,506,272.
    assert loads.params.tolist() == [8_554_181_120, 4_266_831_424]
    assert loads.params.sum() == prob.trained_params
    # the same work a block: 30 blocks each, the first with the embedders' forward, the last with the final layer's
    assert loads.linear_flops[:, 0].tolist() == [30 * LINEAR[0], 30 * LINEAR[1]]
    assert loads.attention_flops.tolist() == [30 * ATTENTION, 30 * ATTENTION]


def test_interleaved_ranks_take_every_pp_th_chunk():
    loads = rank_loads(_hunyuan(), pp=2, vpp=2)
    # four chunks of 15: [15 double], [5 double, 10 single], [15 single], [15 single]; rank 0 holds chunks 0 and 2,
    # rank 1 chunks 1 and 3: 15 x 339,831,296 + 15 x 141,591,808 + 341,637,120 = 7,562,983,680 and
    # 5 x 339,831,296 + 25 x 141,591,808 + 19,077,184 = 5,258,028,864
    assert loads.params.tolist() == [7_562_983_680, 5_258_028_864]


def test_busiest_stage_memory_and_time_use_its_own_blocks():
    prob = _hunyuan()
    gpu = load_gpu("H100")
    settings = RunSettings.resolve(gpu, global_batch=64, stack="megatron-core")
    layouts = [Layout(tp=8, pp=2, cp=1, dp=1, zero=1, micro_batch=1, recompute="full"),
               Layout(tp=8, pp=1, cp=1, dp=2, zero=1, micro_batch=1, recompute="full")]
    evaluation = evaluate(prob, LayoutArrays.from_layouts(layouts), settings)
    memory = evaluation.memory.breakdown(0, gpu.hbm_bytes.value)
    # stage 0 is fullest: its 8,554,181,120 parameters / tp 8 in bf16 (Megatron-Core: 2 bytes a weight)
    assert memory.stage == 0
    assert memory.weights == 8_554_181_120 / 8 * 2
    assert memory.gradients == 8_554_181_120 / 8 * 4  # fp32 main grads, not sharded under the distributed optimizer
    # time: the pipeline runs at stage 0's pace, whose 30 blocks and embedders are half the blocks of pp=1 plus the
    # embedders, so its compute (per micro-batch) is about half of pp=1's: within the embedders' and final layer's share
    compute = [evaluation.time.matmul_s[i] + evaluation.time.attention_s[i] for i in (0, 1)]
    micro_batches = evaluation.time.micro_batches
    per_micro_batch = np.array(compute) / micro_batches
    assert 0.49 < per_micro_batch[0] / per_micro_batch[1] < 0.51


def test_memory_candidates_hold_the_fullest_rank():
    # the planner weighs a few candidate ranks (counts/stages.py memory_candidates); every rank, weighed one by one,
    # needs no more than the fullest candidate
    from estimators.catalog.stacks import load_stack
    from estimators.counts.problem import gpt_problem
    from estimators.counts.stages import PipelineRanks
    from estimators.memory.per_gpu import PARTS, in_flight, memory_bytes, rank_memory
    from estimators.specs.models import GPTSpec

    llama = GPTSpec(num_layers=32, hidden_size=4096, num_heads=32, num_kv_heads=8, ffn_hidden_size=14336, gated_mlp=True,
                    vocab_size=128256, seq_len=8192)
    layouts = [Layout(tp=1, pp=pp, dp=1, vpp=v, micro_batch=1, recompute=r)
               for pp in (2, 3, 4, 6, 8) for v in (1, 2) for r in ("none", "full")]
    lay = LayoutArrays.from_layouts(layouts)
    stack = load_stack("megatron-core")
    for prob in (_hunyuan(), gpt_problem(llama, flash_attention=True)):
        ranks = PipelineRanks.of(prob, lay)
        planned = memory_bytes(prob, lay, 64, "bf16", stack, ranks)
        m = np.full(len(lay), 64.0)
        every = [sum(rank_memory(prob, lay, ranks.rank(r), in_flight(lay, r, m), "bf16", stack)[p] for p in PARTS)
                 for r in range(max(l.pp for l in layouts))]
        fullest = np.max(np.where(np.arange(len(every))[:, None] < lay.pp, every, -np.inf), axis=0)
        assert (planned.total - planned.runtime_reserved - planned.fragmentation) == pytest.approx(fullest, rel=1e-12)

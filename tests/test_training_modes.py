"""Training modes users run (issue 18, item 6): the precision recipe of the model states, LoRA (what it trains,
stores and saves), optimizer states on the host, sequence parallelism on or off.

LoRA at full size: each preset's diffusers class on the meta device in bf16, frozen, with LoRA adapters of rank
128 on every to_q, to_k, to_v and to_out.0 linear as PEFT matches them (tests/saved_fullsize.py add_lora), one
training forward of its default clip under fused attention and F.rms_norm, diffusers' own RMSNorms eager; the adapters' parameters must equal the
planner's count and the saved bytes be within 3% of counts/saved_lora.py (measured: within 0.5%; about 10 s).
finetrainers publishes the trainable parameters of three of them at rank 128 (docs/training/*.md, "trainable
parameters"): LTX-Video 117,440,512, CogVideoX-5B 132,120,576, HunyuanVideo 163,577,856.
"""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.catalog.stacks import load_stack
from estimators.counts.geometry import clip_geometry
from estimators.counts.lora import gpt_lora_params
from estimators.counts.problem import video_problem
from estimators.counts.saved_lora import model_saved_bytes
from estimators.memory.states import state_bytes
from estimators.search.evaluate import evaluate
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.models import GPTSpec
from estimators.specs.training import Training
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings
from plan_cli.main import app
from tests import saved_fullsize as measured
from tests.test_fullsize_memory import MOCHI
from tests.test_video_dit_exact import PRESETS

LORA_128 = Training(method="lora", lora_rank=128)
PUBLISHED_TRAINABLE = {"ltx-video-2b": 117_440_512, "cogvideox-5b": 132_120_576, "hunyuanvideo-13b": 163_577_856}
TOLERANCE = 0.03
runner = CliRunner()


def _problem(preset: str, training: Training = LORA_128, stack: str = "diffusers-fsdp2"):
    system = load_model(preset)
    clip = system.default_clip
    stage = TrainingStage(frames=clip.frames, height=clip.height, width=clip.width, text_tokens=clip.text_tokens, steps=1, global_batch=8)
    return video_problem(system, stage, Workload(stages=(stage,), training=training), implementation=str(load_stack(stack).saved_activations.value))


@pytest.mark.parametrize("preset", sorted(PUBLISHED_TRAINABLE))
def test_lora_trains_what_finetrainers_reports(preset):
    assert _problem(preset).trained_params == PUBLISHED_TRAINABLE[preset]


@pytest.mark.parametrize("preset, cls_name, config, latent", [MOCHI, *PRESETS], ids=[MOCHI[0]] + [p[0] for p in PRESETS])
def test_lora_saved_bytes_and_adapters_match_diffusers_at_full_size(preset, cls_name, config, latent):
    system = load_model(preset)
    clip = system.default_clip
    model = measured.bf16_model(cls_name, config)
    trainable = measured.add_lora(model, 128)
    assert trainable == _problem(preset).trained_params
    got = measured.measure(model, measured.training_call(model, latent, clip.text_tokens), measured.mse_loss_fp32)
    geo = clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)
    predicted = sum(model_saved_bytes(system.dit, geo.visual_tokens, clip.text_tokens, "diffusers", "none", 2, LORA_128).values())
    assert abs(predicted / got.total - 1) <= TOLERANCE, (predicted, got.total)


def test_lora_saves_less_than_full_training_and_keeps_the_base_frozen():
    full, lora = _problem("wan2.1-t2v-14b", Training()), _problem("wan2.1-t2v-14b")
    assert lora.all_params == full.trained_params  # the same weights, now frozen
    assert lora.frozen_params == full.trained_params - lora.trained_params
    assert lora.streams[0].saved_bytes_per_token["none"] < full.streams[0].saved_bytes_per_token["none"]
    assert lora.streams[0].saved_bytes_per_token["full"] == full.streams[0].saved_bytes_per_token["full"]


def test_gpt_lora_counts_every_targeted_matrix():
    llama2_70b = GPTSpec(num_layers=80, hidden_size=8192, num_heads=64, num_kv_heads=8, ffn_hidden_size=28672, gated_mlp=True,
                         vocab_size=32000, seq_len=2048)
    # rank 8 on q, k, v, o (8192 -> 8192, 8192 -> 1024 twice, 8192 -> 8192) and gate, up, down (8192 <-> 28672):
    # 8 x (2 x 16,384 + 2 x 9,216 + 3 x 36,864) = 1,294,336 a layer
    assert gpt_lora_params(llama2_70b, Training(method="lora", lora_rank=8, lora_targets="all-linear")) == 1_294_336
    assert gpt_lora_params(llama2_70b, Training(method="lora", lora_rank=8)) == 8 * (2 * 16_384 + 2 * 9_216)


def test_recipes_keep_the_states_they_name():
    fsdp2, megatron = load_stack("pytorch-fsdp2"), load_stack("megatron-core")
    as_bytes = (lambda b: (b.weight, b.master, b.gradient, b.moments))
    assert as_bytes(state_bytes(fsdp2, Training())) == (4, 0, 4, 8)  # fp32 sharded parameters, gradients and moments
    assert as_bytes(state_bytes(megatron, Training())) == (2, 4, 4, 8)  # bf16 weights, fp32 main grads, master and moments
    assert as_bytes(state_bytes(megatron, Training(states="bf16"))) == (2, 0, 2, 4)  # weights, gradients, moments in bf16
    # bitsandbytes AdamW8bit: a byte a moment and an fp32 scale a block of 2,048
    assert state_bytes(fsdp2, Training(optimizer="adamw-8bit")).moments == pytest.approx(2 * (1 + 4 / 2048))
    assert state_bytes(fsdp2, Training(method="lora", frozen_weights="nf4")).frozen == pytest.approx(4.127 / 8)


def _evaluate(prob, layouts, stack="megatron-core", gpus="H100"):
    gpu = load_gpu(gpus)
    settings = RunSettings.resolve(gpu, global_batch=8, stack=stack)
    return evaluate(prob, LayoutArrays.from_layouts(layouts), settings)


def test_sequence_parallel_splits_what_tensor_parallelism_leaves_whole():
    prob = _problem("wan2.1-t2v-14b", Training(), stack="megatron-core")
    layouts = [Layout(tp=tp, dp=8 // tp, recompute="none", sp=sp) for tp in (1, 4) for sp in (True, False)]
    memory = _evaluate(prob, layouts).memory.activations
    assert memory[0] == memory[1]  # tp 1: nothing to split
    assert memory[3] > memory[2]  # tp 4 without sequence parallelism keeps the norms' and residuals' tensors whole


def test_optimizer_states_on_the_host_leave_the_gpu_and_cost_host_link_time():
    prob = _problem("ltx-video-2b", Training(), stack="diffusers-fsdp2")
    evaluation = _evaluate(prob, [Layout(dp=8, zero=1), Layout(dp=8, zero=1, optimizer_offload=True)], stack="diffusers-fsdp2")
    memory, time = evaluation.memory, evaluation.time
    assert memory.optimizer_states[1] == 0 and memory.host_bytes[1] == memory.optimizer_states[0]
    assert time.optimizer_s[1] > time.optimizer_s[0]


def test_lora_step_skips_the_weight_gradients():
    full, lora = _problem("ltx-video-2b", Training()), _problem("ltx-video-2b")
    layouts = [Layout(dp=8, zero=1, recompute="none")]
    times = [_evaluate(p, layouts, stack="diffusers-fsdp2").time for p in (full, lora)]
    # forward + input gradient + weight gradient against forward + input gradient: 2/3 of the matmul time
    assert times[1].matmul_s[0] / times[0].matmul_s[0] == pytest.approx(2 / 3, rel=0.02)


def test_cli_plans_lora_and_names_bad_training_keys():
    result = runner.invoke(app, ["estimate", "--gpus", "H100x8", "--model", "ltx-video-2b", "--steps", "100", "--global-batch", "8",
                                 "--training", "method=lora,lora_rank=128,states=bf16", "--stack", "diffusers-fsdp2", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["workload"]["training"]["method"] == "lora" and doc["workload"]["training"]["lora_rank"] == 128
    memory = doc["memory_per_gpu_bytes"]
    assert memory["frozen_weights"] > 0 and memory["weights"] < memory["frozen_weights"]
    bad = runner.invoke(app, ["estimate", "--gpus", "H100x8", "--training", "method=qlora"])
    assert bad.exit_code == 2 and "--training" in bad.stderr and "method" in bad.stderr
    rank = runner.invoke(app, ["estimate", "--gpus", "H100x8", "--training", "method=lora,lora_rank=0"])
    assert rank.exit_code == 2 and "lora_rank" in rank.stderr
    assert np.isfinite(doc["step_time_s"])

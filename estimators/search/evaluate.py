"""Everything about many layouts at once: validity, step time and its parts, memory per GPU."""
from __future__ import annotations

import numpy as np

from estimators.catalog.stacks import load_stack
from estimators.counts.problem import TrainingProblem
from estimators.memory.per_gpu import memory_bytes
from estimators.specs.layout_arrays import LayoutArrays
from estimators.time.collectives import step_collectives
from estimators.time.step import RunSettings, compute_time_s, data_parallel_s, model_parallel_comm_s, optimizer_s


def validity(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, reason string per layout: '' when valid)."""
    m = lay.micro_batches(settings.global_batch)
    node = settings.gpu.node_size
    checks = [
        (np.abs(m - np.round(m)) > 1e-9, "global batch does not divide by dp x micro-batch"),
        (prob.num_layers < lay.pp * lay.vpp, "fewer layers than pipeline chunks"),
        ((prob.heads % lay.tp != 0) | (prob.kv_heads % lay.tp != 0), "heads do not divide by tp"),
        (lay.tp > node, "tp larger than a node"),
        (~lay.cp_ring & ((prob.heads // np.maximum(lay.tp, 1)) % lay.cp != 0), "Ulysses needs heads/tp divisible by cp"),
        ((lay.vpp > 1) & ((lay.pp == 1) | (np.round(m) % lay.pp != 0)), "interleaving needs pp > 1 and micro-batches divisible by pp"),
        (prob.tokens < lay.cp * lay.tp, "fewer tokens than cp x tp"),
    ]
    reason = np.full(len(lay), "", dtype=object)
    for failed, text in reversed(checks):
        reason = np.where(failed, text, reason)
    return reason == "", reason


def evaluate(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> dict[str, np.ndarray]:
    """Everything about each layout: validity, memory, step time and its parts."""
    valid, reason = validity(prob, lay, settings)
    m = lay.micro_batches(settings.global_batch)
    compute = compute_time_s(prob, lay, settings)
    compute_mb = compute["matmul"] + compute["attention"] + compute["elementwise"] + compute["frozen_encoders"] + compute["overhead"]
    costs = step_collectives(prob, lay, lay.stage_layers(prob.num_layers), settings.gpu, settings.profile.links)
    stack = load_stack(settings.stack)
    comm = model_parallel_comm_s(costs, lay, compute, stack)
    t_mb = compute_mb + comm["tensor_parallel"] + comm["context_parallel"] + comm["pipeline_p2p"]
    bubble_mb = (lay.pp - 1) / lay.vpp
    dp = data_parallel_s(costs, lay, prob, stack, compute, m)
    opt = optimizer_s(prob, lay, settings)
    step = (m + bubble_mb) * t_mb + dp + opt
    memory = memory_bytes(prob, lay, settings.global_batch, settings.precision)
    fits = memory["total"] <= settings.gpu.hbm_bytes.value
    return {
        "valid": valid,
        "reason": reason,
        "fits": fits,
        "micro_batches": m,
        "step_time_s": step,
        "compute_s": m * compute_mb,
        "matmul_s": m * compute["matmul"],
        "attention_s": m * compute["attention"],
        "attention_backward_s": m * compute["attention_bwd"],
        "elementwise_s": m * compute["elementwise"],
        "overhead_s": m * compute["overhead"],
        "frozen_encoders_s": m * compute["frozen_encoders"],
        "tensor_parallel_s": m * comm["tensor_parallel"],
        "context_parallel_s": m * comm["context_parallel"],
        "pipeline_p2p_s": m * comm["pipeline_p2p"],
        "bubble_s": bubble_mb * t_mb,
        "bubble_fraction": bubble_mb / (m + bubble_mb),
        "data_parallel_exposed_s": dp,
        "optimizer_s": opt,
        "memory": memory,
        "collectives": costs,
        "network_bytes_per_step": sum(c.bytes_per_gpu * (m if c.per == "micro-batch" else 1) for c in costs),
    }

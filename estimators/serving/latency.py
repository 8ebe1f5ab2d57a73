"""The latency of a batch of requests on one replica, composed part by part, and its peak memory per GPU.

  text encoding   the prompts (and negative prompts) through the frozen encoder(s), serving/text.py
  denoising       steps x (DiT calls a step x one forward + the CFG-parallel exchange), serving/forward.py
  VAE decode      every clip of the batch, on one GPU (the official pipelines decode on rank 0 or
                  redundantly on every GPU: either way one GPU's time), serving/vae.py
  container       the decoded frames encoded to H.264 on the replica's host cores
  offload         components swapped between host and GPU once a batch (model placement)

A guidance step with k branches on a replica with CFG-parallel degree g runs k/g branches on each GPU
group: as one forward of k/g x batch clips (batched guidance) or as k/g forwards of batch clips in a row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from estimators.counts.dit import dit_forward_flops
from estimators.counts.geometry import ClipGeometry, clip_geometry
from estimators.counts.problem import TrainingProblem, video_problem
from estimators.counts.vaes import vae_decoder_params
from estimators.errors import PlanInputError
from estimators.serving.forward import Placement, forward_exchanges, forward_seconds
from estimators.serving.machine import PRECISION_BYTES, Machine
from estimators.serving.memory import PhaseBytes, dit_activation_bytes, placement_bytes, with_overheads
from estimators.serving.parallel import Split
from estimators.serving.results import ClipLatency, ForwardBreakdown, ServeCollective, ServeMemory
from estimators.serving.text import text_cost
from estimators.serving.vae import RGB, DecodeCost, decode_cost, decode_seconds, decode_working_bytes
from estimators.specs.models import VideoSystemSpec
from estimators.specs.serving import Guidance, ServingClip, VaeTiling, guidance_branches, guidance_is_batched
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.comm import bytes_per_rank

NOISE_PREDICTION_BYTES = 4  # noise predictions are combined in fp32 (Wan, diffusers upcast before the guidance sum)
FP8_WEIGHT_BYTES = 1


@dataclass(frozen=True)
class ServeProblem:
    """A clip of a system as served: the DiT problem (forward FLOPs, tokens), geometry, the decode's cost."""

    system: VideoSystemSpec
    clip: ServingClip
    steps: int
    guidance: Guidance
    vae_precision: str
    tiling: Optional[VaeTiling]
    geometry: ClipGeometry
    problem: TrainingProblem
    decode: DecodeCost

    @property
    def latent_elements(self) -> float:
        """Values of the DiT's output for one clip (latent channels x latent frames x height x width)."""
        return self.system.dit.out_channels * self.geometry.latent_elements

    @property
    def dit_forward_flops(self) -> int:
        return sum(dit_forward_flops(self.system.dit, self.geometry.visual_tokens, self.clip.text_tokens).values())


def serve_problem(system: VideoSystemSpec, clip: ServingClip, steps: int, guidance: Guidance, vae_precision: str,
                  tiling: Optional[VaeTiling], activation_bytes: int) -> ServeProblem:
    """The served clip reduced to what the latency and memory models read (checks the clip against the VAE)."""
    geo = clip_geometry(system.vae, system.dit, clip.frames, clip.height, clip.width)
    stage = TrainingStage(height=clip.height, width=clip.width, frames=clip.frames, fps=clip.fps, text_tokens=clip.text_tokens,
                          steps=1, global_batch=1)
    problem = video_problem(system, stage, Workload(stages=(stage,)), activation_bytes=activation_bytes)
    return ServeProblem(system=system, clip=clip, steps=steps, guidance=guidance, vae_precision=vae_precision, tiling=tiling,
                        geometry=geo, problem=problem, decode=decode_cost(system.vae, geo, tiling))


def calls_and_samples(guidance: Guidance, cfg: int, batch: int) -> tuple[int, int]:
    """(DiT calls a step on one GPU, clips in each call) for a batch of requests."""
    branches_here = guidance_branches(guidance) // cfg
    if guidance_is_batched(guidance):
        return 1, branches_here * batch
    return branches_here, batch


def dit_weight_bytes(sp: ServeProblem, machine: Machine) -> float:
    """The DiT's weights as served: FP8 GEMM weights at one byte, else the activation precision."""
    per_param = FP8_WEIGHT_BYTES if machine.precision == "fp8" else machine.activation_bytes
    return sp.problem.trained_params * per_param


def _cfg_exchange(sp: ServeProblem, machine: Machine, split: Split, batch: int) -> list[ServeCollective]:
    """The all-gather of the groups' noise predictions once a step (none without CFG parallel)."""
    if split.cfg == 1:
        return []
    buffer = sp.latent_elements * batch * split.cfg * NOISE_PREDICTION_BYTES
    seconds = machine.collective_s("all_gather", buffer, split.cfg)
    return [ServeCollective(name="CFG noise-prediction all-gather", kind="all_gather", per="step", ranks=split.cfg, calls=1,
                            bytes_per_gpu=float(bytes_per_rank("all_gather", buffer, split.cfg)), seconds=seconds, treatment="exposed")]


def expert_switches(system) -> int:
    """Expert swaps a clip needs: with one expert of a model split by noise level on the GPU at a time (Wan 2.2's
    --offload_model), each later expert is swapped in once as the sampler crosses its boundary."""
    return system.expert_count - 1 if system.experts is not None and system.resident_experts == 1 else 0


def _expert_swap_bytes(phases: PhaseBytes, placement: Placement) -> float:
    """Bytes one GPU moves each way to swap the expert it holds (its share of one expert's weights)."""
    if placement.mode == "streamed":
        return 0.0  # every forward streams its layers from the host already
    return phases.dit_weights / (placement.shards if placement.mode == "sharded" else 1)


def _offload_s(phases: PhaseBytes, machine: Machine, placement: Placement, switches: int) -> float:
    """Host-GPU swaps once a batch: each swapped component in and out, and each expert switch (out and in)."""
    link = machine.device.host_link
    moved = 0.0
    if placement.mode == "model":
        moved = 2 * (phases.dit_weights + phases.text_weights + phases.vae_weights)
    elif placement.mode == "streamed":
        moved = 2 * (phases.text_weights + phases.vae_weights)
    moved += switches * 2 * _expert_swap_bytes(phases, placement)
    if moved and link is None:
        raise PlanInputError(f"{machine.gpu.name}: no host-link figure in data/serving/devices.yaml to time weights swapped to host memory")
    return moved / link.achieved_bytes_per_s if moved else 0.0


def phase_bytes(sp: ServeProblem, machine: Machine, split: Split, batch: int) -> PhaseBytes:
    """Weights and live bytes of each phase on one GPU."""
    calls, samples = calls_and_samples(sp.guidance, split.cfg, batch)
    text = text_cost(sp.system, sp.clip.text_tokens, sp.guidance, machine, batch)
    per_param = dit_weight_bytes(sp, machine) / sp.problem.trained_params
    return PhaseBytes(
        dit_weights=dit_weight_bytes(sp, machine), text_weights=text.weight_bytes,
        vae_weights=PRECISION_BYTES[sp.vae_precision] * sum(vae_decoder_params(sp.system.vae).values()),
        dit_activations=dit_activation_bytes(sp.problem, split, samples), text_working=text.working_bytes,
        vae_working=batch * decode_working_bytes(sp.decode, sp.vae_precision), largest_layer_weights=sp.problem.layer_params * per_param,
    )


def serve_memory(sp: ServeProblem, machine: Machine, split: Split, placement: Placement, batch: int) -> ServeMemory:
    """Peak bytes per GPU of a batch under a placement."""
    parts = with_overheads(placement_bytes(phase_bytes(sp, machine, split, batch), placement))
    capacity = machine.gpu.hbm_bytes.value
    return ServeMemory(**parts, capacity=capacity, fits=parts["total"] <= capacity, placement=placement.mode)


def clip_latency(sp: ServeProblem, machine: Machine, split: Split, placement: Placement, batch: int) -> ClipLatency:
    """Seconds of a batch of requests on a replica split as ``split``, by part."""
    calls, samples = calls_and_samples(sp.guidance, split.cfg, batch)
    phases = phase_bytes(sp, machine, split, batch)
    forward = forward_seconds(sp.problem, machine, split, samples, sp.latent_elements, placement, phases.dit_weights)
    exchanges = forward_exchanges(sp.problem, machine, split, samples, sp.latent_elements, placement, phases.dit_weights)
    collectives = [ServeCollective(name=e.name, kind=e.kind, per="forward", ranks=e.ranks, calls=e.calls, bytes_per_gpu=e.bytes_per_gpu,
                                   seconds=e.seconds, treatment=e.treatment) for e in exchanges] + _cfg_exchange(sp, machine, split, batch)
    exchange = sum(c.seconds for c in collectives if c.per == "step")
    denoising = sp.steps * (calls * forward.total + exchange)
    text = text_cost(sp.system, sp.clip.text_tokens, sp.guidance, machine, batch).seconds
    vae = batch * decode_seconds(sp.decode, machine, sp.vae_precision)
    cores = split.gpus * machine.device.host_cores_per_gpu
    pixel_frames = sp.decode.video_elements / RGB
    container = batch * (pixel_frames / (machine.encoding.pixel_frames_per_s_per_core * cores) + machine.encoding.per_clip_s)
    offload = _offload_s(phases, machine, placement, expert_switches(sp.system))
    breakdown = ForwardBreakdown(
        matmul_s=forward.matmul, attention_s=forward.attention, elementwise_s=forward.elementwise, overhead_s=forward.overhead,
        ulysses_s=forward.ulysses, ring_exposed_s=forward.ring_exposed, output_gather_s=forward.output_gather,
        weight_gather_s=forward.weight_gather, weight_stream_s=forward.weight_stream, total_s=forward.total,
    )
    return ClipLatency(
        text_encoding_s=text, denoising_s=denoising, vae_decode_s=vae, container_encoding_s=container, offload_transfers_s=offload,
        total_s=text + denoising + vae + container + offload, batch=batch, steps=sp.steps, dit_calls_per_step=calls,
        samples_per_call=samples, forward_s=forward.total, forward=breakdown, cfg_exchange_s_per_step=exchange, collectives=collectives,
    )


LATENCY_PARTS = ("text_encoding_s", "denoising_s", "vae_decode_s", "container_encoding_s", "offload_transfers_s")


def dominant_part(latency: ClipLatency) -> str:
    """The largest part of a service time, e.g. 'denoising 96%'."""
    part = max(LATENCY_PARTS, key=lambda name: getattr(latency, name))
    return f"{part.removesuffix('_s').replace('_', ' ')} {getattr(latency, part) / latency.total_s:.0%}"

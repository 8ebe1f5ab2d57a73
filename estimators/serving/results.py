"""Serving as typed results: what ``plan serve --json`` prints and its JSON Schema, from one set of classes.

Keys the issue names are a contract: ``choice`` {gpu, gpus_per_replica, replicas, p95_s, cost_per_clip_usd}
and ``candidates``. Seconds end in ``_s``, bytes in ``_bytes`` (or are parts of a ``*_bytes`` breakdown),
money in ``_usd``.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from estimators.catalog.prices import PriceQuote
from estimators.results import Document, Range, Result


class ForwardBreakdown(Result):
    """One DiT forward on one GPU of the replica, seconds by part (they add up to total_s)."""

    matmul_s: float
    attention_s: float
    elementwise_s: float
    overhead_s: float = Field(description="Per-layer dispatch (0 where the profile measured none).")
    ulysses_s: float = Field(description="Ulysses all-to-alls (exposed).")
    ring_exposed_s: float = Field(description="Ring key/value exchanges beyond the attention they overlap.")
    output_gather_s: float = Field(description="All-gather of the forward's output over the sequence group.")
    weight_gather_s: float = Field(description="FSDP weight gathers left exposed (sharded placement).")
    weight_stream_s: float = Field(description="Weights streamed from host memory (streamed placement).")
    total_s: float


class ServeCollective(Result):
    """One kind of collective on one GPU of the replica, on its NVLink links."""

    name: str
    kind: str = Field(description="all_to_all, send_recv or all_gather.")
    per: str = Field(description="'forward' or 'step' (what calls, bytes and seconds count).")
    ranks: int
    calls: float
    bytes_per_gpu: float
    seconds: float = Field(description="All calls, before any overlap.")
    treatment: str


class ClipLatency(Result):
    """A batch of requests on one replica, start to file, seconds by part (they add up to total_s)."""

    text_encoding_s: float
    denoising_s: float = Field(description="steps x (DiT calls a step x forward + CFG exchange).")
    vae_decode_s: float
    container_encoding_s: float
    offload_transfers_s: float = Field(description="Components swapped between host and GPU (model placement).")
    total_s: float
    batch: int = Field(description="Requests served together.")
    steps: int
    dit_calls_per_step: int = Field(description="Forwards a GPU runs a step (sequential guidance branches on its group).")
    samples_per_call: int = Field(description="Clips in one forward (a batched guidance branch doubles it).")
    forward_s: float = Field(description="One forward on one GPU.")
    forward: ForwardBreakdown
    cfg_exchange_s_per_step: float = Field(description="CFG-parallel groups exchanging noise predictions, a step.")
    collectives: list[ServeCollective] = Field(description="Every collective of a forward and of a step on one GPU.")


class ServeMemory(Result):
    """Peak bytes per GPU of a request by part (they add up to total), against the GPU's memory."""

    dit_weights: float
    text_encoder_weights: float
    vae_weights: float
    dit_activations: float = Field(description="Largest live activations of a no-grad forward.")
    text_encoder_working: float
    vae_decode_working: float = Field(description="Live decoder activations of the frames decoded at once and the decoded video.")
    runtime_reserved: float
    fragmentation: float
    total: float
    capacity: float
    fits: bool
    placement: str = Field(description="resident, model (components swapped to host), sharded (FSDP) or streamed (sequential offload).")


class SplitRow(Result):
    """One split of a replica and why it is not the one chosen."""

    label: str
    cfg: int
    ulysses: int
    ring: int
    service_s: Optional[float] = Field(description="Seconds of a request (None: the split cannot run).")
    verdict: str


class ReplicaOption(Result):
    """A replica of ``gpus`` GPUs of one kind serving ``batch`` requests at a time, with its best split."""

    gpu: str
    gpus: int
    batch: int
    split: str
    cfg: int
    ulysses: int
    ring: int
    placement: str
    service_s: float = Field(description="Seconds from a batch's start to its files.")
    service_s_range: Range
    clips_per_hour: float = Field(description="What one replica finishes an hour, busy all the time.")
    speedup_vs_one_gpu: Optional[float] = Field(description="One GPU's service time / this one (None: one GPU cannot serve it).")
    scaling_efficiency: Optional[float] = Field(description="Speed-up / GPUs.")
    dominant: str = Field(description="The largest part of the service time.")
    latency: ClipLatency
    memory: ServeMemory
    splits: list[SplitRow] = Field(description="Every split of this size and why it loses.")


class KindReplicas(Result):
    """One GPU kind: the best replica of every size at batch 1, and the best replica at each batch."""

    gpu: str
    kernel: Optional[str]
    price: PriceQuote
    by_size: list[ReplicaOption]
    by_batch: list[ReplicaOption] = Field(description="For each batch searched, its fastest replica (throughput with requests batched).")
    cannot_serve: list[str] = Field(description="Sizes that fit no placement, with why.")


class FleetOption(Result):
    """A fleet of identical replicas meeting (or not) the demand."""

    gpu: str
    gpus_per_replica: int
    batch: int
    split: str
    placement: str
    service_s: float
    replicas: int = Field(description="Replicas provisioned: for the load plus spares.")
    replicas_for_load: int
    spare_replicas: int
    utilization: float = Field(description="Busy share of the replicas for the load at the busiest hour.")
    p50_s: float
    p95_s: float
    p99_s: float
    target_percentile_s: float = Field(description="Latency at the demand's percentile.")
    gpus: int
    gpu_hours_per_day: float = Field(description="All replicas all day (sized for the busiest hour).")
    autoscaled_gpu_hours_per_day: float = Field(description="Each hour sized for its own rate (no scale-up delay).")
    cost_per_day_usd: float
    cost_per_clip_usd: float
    cost_per_video_second_usd: float
    energy_per_clip_kwh: float = Field(description="GPUs busy on a clip at board power.")
    provisioned_energy_per_clip_kwh: float = Field(description="Every provisioned GPU-hour at board power, per clip.")
    usd_per_gpu_hour: float
    why_not: str = ""

    def judged(self, why_not: str) -> "FleetOption":
        return self.model_copy(update={"why_not": why_not})


class FleetRanges(Result):
    """The choice's figures if the service time is at either end of its range (and prices at theirs)."""

    service_s: Range
    replicas: tuple[int, int] = Field(description="Replicas needed at the low and high service time.")
    p95_s_at_chosen_fleet: Optional[Range] = Field(description="p95 with the chosen replicas (None: saturated at the high end).")
    cost_per_clip_usd: Range
    cost_per_video_second_usd: Range
    gpu_hours_per_day: Range
    energy_per_clip_kwh: Range


class DemandInfo(Result):
    clips_per_hour: float
    peak_factor: float = Field(description="Busiest hour's rate over the mean.")
    peak_clips_per_hour: float
    percentile: int
    latency_target_s: float
    availability: float
    queue_model: str


class QueueCheck(Result):
    """The chosen fleet's queue simulated event by event against the formula."""

    requests: int
    seed: int
    simulated_p50_s: float
    simulated_p95_s: float
    simulated_p99_s: float
    formula_p50_s: float
    formula_p95_s: float
    formula_p99_s: float
    p95_difference: float = Field(description="simulated / formula - 1 at p95.")


class ServeClip(Result):
    frames: int
    height: int
    width: int
    fps: float
    seconds: float
    text_tokens: int
    visual_tokens: int
    latent_frames: int
    latent_height: int
    latent_width: int


class Sampler(Result):
    steps: int
    guidance: str
    guidance_branches: int
    vae_precision: str
    vae_tiles: int
    defaults_source: str


class ServePlan(Document):
    """`plan serve --json`: one clip's latency and memory on replicas of 1-8 GPUs of each kind; with a demand,
    the cheapest fleet meeting it, each kind's runners-up and why they lose."""

    kind: Literal["serve"] = "serve"
    model: str
    clip: ServeClip
    sampler: Sampler
    precision: str
    dit_forward_flops: int = Field(description="One forward of one clip (conditional branch).")
    flops_per_clip: float = Field(description="Every DiT forward, text encoding and VAE decode of one clip.")
    kinds: list[KindReplicas]
    demand: Optional[DemandInfo]
    answer: str
    choice: Optional[FleetOption]
    nearest: Optional[FleetOption] = Field(description="When nothing meets the demand: the option that misses by least.")
    candidates: list[FleetOption]
    ranges: Optional[FleetRanges]
    simulation: Optional[QueueCheck] = Field(default=None, description="The choice's queue simulated (plan serve, sim/serving_queue.py).")
    assumptions: list[str]
    warnings: list[str]


class LoadRate(Result):
    """One arrival rate of a load test: what the users saw, what the serving model predicts."""

    rate_per_s: float
    predicted_utilization: float
    requests: int
    completed: int
    rejected: int = Field(description="Refused with 503 (queue full).")
    measured_p50_s: float
    measured_p95_s: float
    measured_throughput_per_s: float
    measured_service_s: float = Field(description="Median seconds the server took to generate a clip during this rate.")
    predicted_p50_s: Optional[float] = Field(description="None at or beyond saturation (the queue has no steady state).")
    predicted_p95_s: Optional[float]
    predicted_throughput_per_s: float
    p95_error: Optional[float] = Field(description="predicted / measured - 1 at p95.")
    queue_p95_s: Optional[float] = Field(description="The queue's p95 given the generation time measured during this rate (the queueing part alone).")


class MeasuredDevice(Result):
    """This CPU as a serving device, measured by microbenchmarks before a load test."""

    peak_flops_fp32: float
    matmul_efficiency_max: float
    matmul_half_dim: float
    attention_efficiency_max: float
    attention_half_seq: float
    memory_bytes_per_s: float
    layer_overhead_s: float = Field(description="Fixed seconds a DiT or encoder layer costs a forward.")
    conv_efficiency: float
    conv_layer_overhead_s: float
    container_pixel_frames_per_s: float
    container_per_clip_s: float
    date: str


class LoadTestResult(Document):
    """`plan reference loadtest --json`: the reference server driven at several Poisson rates, against the
    serving model's prediction for this CPU (its device measured by microbenchmarks before the test)."""

    kind: Literal["loadtest"] = "loadtest"
    server: str = Field(description="'spawned' (a server started for the test) or the URL driven.")
    config: str
    frames: int
    steps: int
    guidance: str
    threads: int = Field(description="Intra-op threads of the model (server and device measurement).")
    measured_service_s: float = Field(description="Median latency of requests sent one after another.")
    predicted_service_s: float
    service_error: float = Field(description="predicted / measured - 1.")
    predicted: ClipLatency
    device: MeasuredDevice = Field(description="The CPU as measured: peak, curves, layer overhead, convolution, container encoding.")
    rates: list[LoadRate]
    p95_mape_below_saturation: Optional[float] = Field(description="Mean |p95 error| over the rates below 90% predicted utilisation.")
    target: str

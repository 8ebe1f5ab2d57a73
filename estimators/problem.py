"""A training problem reduced to what the step-time and memory models need, per layer and sample.

Both families (the video DiT and the GPT used for back-testing) become one ``TrainingProblem``, so
the layout evaluation in ``step.py`` is written once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from estimators.flops import dit_forward_flops, gpt_forward_flops
from estimators.text_encoders import t5_encoder_flops
from estimators.vaes import vae_encoder_flops
from estimators.geometry import ClipGeometry, clip_geometry
from estimators.memory import BF16_BYTES, FP32_BYTES, FROZEN_ENCODER_LIVE_TENSORS, StreamWidths, dit_streams, saved_elements_per_token
from estimators.params import dit_block_params, dit_params, gpt_params
from estimators.text_encoders import t5_encoder_params
from estimators.vaes import vae_encoder_params
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.workload import TrainingStage, Workload

RECOMPUTE_MODES = ("none", "selective", "full")


@dataclass(frozen=True)
class Stream:
    """One token stream through every layer (visual or text; a GPT has one)."""

    name: str
    tokens: int  # tokens a sample
    width: int  # activation width d: TP/PP traffic is tokens x d, and the matmul width before tp splits it
    linear_flops_per_layer: float  # forward matmul FLOPs a layer and sample (averaged over layers)
    saved_bytes_per_token: dict[str, float]  # bytes saved for backward a layer, by recompute mode


@dataclass(frozen=True)
class TrainingProblem:
    """Per-sample, per-layer quantities of one training stage."""

    name: str
    num_layers: int
    heads: int
    kv_heads: int
    head_dim: int
    streams: tuple[Stream, ...]
    attention_flops_per_layer: float  # score/value products a layer and sample (forward)
    attention_seq: int  # tokens one attention call sees
    other_flops: float  # forward FLOPs outside the layers a sample (embedders, modulation, head)
    selective_recompute_flops_per_layer: float  # forward FLOPs re-run under selective recompute
    trained_params: int
    layer_params: int  # largest layer, gathered at once under ZeRO-3
    block_params_total: int  # all layers together (the rest: embedders and heads)
    frozen_flops: float  # frozen-encoder forward FLOPs a sample computed online (0 when precomputed)
    frozen_weight_bytes: float  # frozen encoder weights resident when run online
    frozen_working_bytes: float  # peak transient activations of the frozen encoders, a sample
    frozen_gemm_dim: int  # representative width of the frozen encoders' matmuls/convs
    activation_bytes: int = BF16_BYTES  # bytes of an activation value (what TP/CP/PP traffic carries)
    state_bytes_per_param: int = BF16_BYTES  # bytes of a weight or gradient as held and communicated
    causal_attention: bool = False  # a causal mask: flash kernels skip the masked half (DiTs are bidirectional)

    @property
    def forward_flops(self) -> float:
        """Trained model's forward FLOPs a sample."""
        layers = sum(s.linear_flops_per_layer for s in self.streams) + self.attention_flops_per_layer
        return self.num_layers * layers + self.other_flops

    @property
    def tokens(self) -> int:
        """Tokens a sample, all streams."""
        return sum(s.tokens for s in self.streams)


def saved_bytes_by_mode(stream: StreamWidths, activation_bytes: int, last: StreamWidths | None = None, layers: int = 1) -> dict[str, float]:
    """Bytes a token of a stream saves in a block, by recompute mode; with ``last``, averaged over
    ``layers`` blocks of which the last uses the ``last`` widths (Mochi's text stream)."""
    def one(widths: StreamWidths, mode: str) -> float:
        act, stats = saved_elements_per_token(widths, mode)
        return act * activation_bytes + stats * FP32_BYTES

    if last is None:
        return {mode: one(stream, mode) for mode in RECOMPUTE_MODES}
    return {mode: ((layers - 1) * one(stream, mode) + one(last, mode)) / layers for mode in RECOMPUTE_MODES}


def frozen_encoder_costs(system: VideoSystemSpec, geo: ClipGeometry, text_tokens: int, workload: Workload) -> tuple[float, float, float]:
    """(forward FLOPs, weight bytes, working bytes) of the frozen encoders run online, a sample."""
    flops = weights = working = 0.0
    if not workload.precompute_text:
        flops += sum(t5_encoder_flops(system.text_encoder, system.dit.max_text_tokens).values())
        weights += BF16_BYTES * sum(t5_encoder_params(system.text_encoder).values())
        working = max(working, FROZEN_ENCODER_LIVE_TENSORS * BF16_BYTES * system.dit.max_text_tokens * system.text_encoder.d_ff)
    if not workload.precompute_latents:
        vae = system.vae
        flops += sum(vae_encoder_flops(vae, geo.frames, geo.height, geo.width).values())
        weights += BF16_BYTES * sum(vae_encoder_params(vae).values())
        widest = max(_vae_stage_elements(vae, geo))
        working = max(working, FROZEN_ENCODER_LIVE_TENSORS * BF16_BYTES * widest)
    return flops, weights, working


def _vae_stage_elements(vae, geo: ClipGeometry) -> list[int]:
    """Activation elements of each encoder stage (T x H x W x C) for one clip."""
    t, h, w = geo.frames, geo.height, geo.width
    sizes = []
    for i, stage in enumerate(vae.encoder_stages):
        if i > 0:
            t, h, w = (t - 1) // stage.temporal_expansion + 1, h // stage.spatial_expansion, w // stage.spatial_expansion
        sizes.append(t * h * w * stage.channels)
    return sizes


def video_problem(system: VideoSystemSpec, stage: TrainingStage, workload: Workload, activation_bytes: int = BF16_BYTES) -> TrainingProblem:
    """The DiT of a video system on one training stage's clips (activations of ``activation_bytes``)."""
    dit = system.dit
    geo = clip_geometry(system.vae, dit, stage.frames, stage.height, stage.width)
    n, text = geo.visual_tokens, stage.text_tokens
    forward = dit_forward_flops(dit, n, text)
    layers = dit.num_layers
    visual_w, text_w = dit_streams(dit)
    last_text = None if dit.last_block_updates_text or dit.text_stream == "shared" else replace(text_w, updates=False)
    visual = Stream("visual", n, dit.visual_width, forward["linear_visual"] / layers, saved_bytes_by_mode(visual_w, activation_bytes))
    text_stream = Stream("text", text, dit.text_width, forward["linear_text"] / layers,
                         saved_bytes_by_mode(text_w, activation_bytes, last_text, layers))
    frozen_flops, frozen_weights, frozen_working = frozen_encoder_costs(system, geo, text, workload)
    block = dit_block_params(dit, last=False)
    return TrainingProblem(
        name=system.name,
        num_layers=layers,
        heads=dit.num_heads,
        kv_heads=dit.num_heads,
        head_dim=dit.head_dim,
        streams=(visual, text_stream),
        attention_flops_per_layer=forward["attention"] / layers,
        attention_seq=n + text,
        other_flops=forward["embeddings"] + forward["final_layer"] + forward["modulation"],
        selective_recompute_flops_per_layer=0.0,
        trained_params=sum(dit_params(dit).values()),
        layer_params=sum(block.values()),
        block_params_total=dit_params(dit)["blocks"],
        frozen_flops=frozen_flops,
        frozen_weight_bytes=frozen_weights,
        frozen_working_bytes=frozen_working,
        frozen_gemm_dim=system.text_encoder.d_model,
        activation_bytes=activation_bytes,
        state_bytes_per_param=activation_bytes,
    )


def gpt_saved_bytes_per_token(spec: GPTSpec, flash_attention: bool) -> dict[str, float]:
    """Korthikanti et al. 2022, Table 2, per token of one layer (before tensor-parallel division).

    none: h (34 + 5 a s / h) bytes, the s^2 term gone with flash attention; selective: 34 h; full: 2 h.
    """
    h, a, s = spec.hidden_size, spec.num_heads, spec.seq_len
    scores = 0 if flash_attention else 5 * a * s
    return {"none": 34 * h + scores, "selective": 34 * h, "full": 2 * h}


def gpt_problem(spec: GPTSpec, flash_attention: bool, name: str = "gpt") -> TrainingProblem:
    """A GPT training a sequence of seq_len tokens per sample."""
    forward = gpt_forward_flops(spec)
    layers = spec.num_layers
    stream = Stream(
        "tokens", spec.seq_len, spec.hidden_size, forward["linear"] / layers,
        gpt_saved_bytes_per_token(spec, flash_attention),
    )
    params = gpt_params(spec)
    return TrainingProblem(
        name=name,
        num_layers=layers,
        heads=spec.num_heads,
        kv_heads=spec.num_kv_heads,
        head_dim=spec.hidden_size // spec.num_heads,
        streams=(stream,),
        attention_flops_per_layer=forward["attention"] / layers,
        attention_seq=spec.seq_len,
        other_flops=forward["logits"],
        # Korthikanti's selective recompute re-runs the attention core (QK^T, softmax, AV).
        selective_recompute_flops_per_layer=forward["attention"] / layers,
        trained_params=sum(params.values()),
        layer_params=params["layers"] // layers,
        block_params_total=params["layers"],
        frozen_flops=0.0,
        frozen_weight_bytes=0.0,
        frozen_working_bytes=0.0,
        frozen_gemm_dim=spec.hidden_size,
        causal_attention=True,
    )

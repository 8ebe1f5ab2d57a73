"""A training problem reduced to what the step-time and memory models need, per layer and sample.

Both families (the video DiT and the GPT used for back-testing) become one ``TrainingProblem``, so
the layout evaluation in ``step.py`` is written once.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.catalog.stacks import default_stack, load_stack
from estimators.counts.dit import encoder_text_tokens, layer_summary
from estimators.counts.flops import gpt_forward_flops
from estimators.counts.geometry import ClipGeometry, clip_geometry
from estimators.counts.params import gpt_params
from estimators.counts.saved import outside_saved_bytes
from estimators.counts.text_encoders import (
    text_encoder_flops,
    text_encoder_gemm_width,
    text_encoder_params,
    text_encoder_tokens,
    text_encoder_working_elements,
)
from estimators.counts.vaes import vae_encoder_flops, vae_encoder_params, vae_encoder_working_elements
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.workload import TrainingStage, Workload
from estimators.units import BF16_BYTES, FP32_BYTES

# Live activation tensors of a frozen conv encoder at its widest stage during a no-grad forward:
# the block input, one intermediate and the output (no autograd graph is kept).
FROZEN_ENCODER_LIVE_TENSORS = 3

@dataclass(frozen=True)
class Stream:
    """One token stream through every layer (visual or text; a GPT has one)."""

    name: str
    tokens: int  # tokens a sample
    width: int  # activation width d: TP/PP traffic is tokens x d, and the matmul width before tp splits it
    linear_flops_per_layer: float  # forward matmul FLOPs a layer and sample (averaged over layers)
    saved_bytes_per_token: dict[str, float]  # bytes saved for backward a layer, by recompute mode
    tp_collectives_per_layer: float = 2.0  # tensor-parallel reductions a layer and pass (averaged over layers)


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
    cross_attention_flops_per_layer: float = 0.0  # visual-to-text cross-attention products a layer and sample
    cross_attention_kv_tokens: int = 0  # keys one cross-attention query sees (the text tokens)
    state_bytes_per_param: int = BF16_BYTES  # bytes of a weight or gradient as held and communicated
    causal_attention: bool = False  # a causal mask: flash kernels skip the masked half (DiTs are bidirectional)
    outside_saved_bytes: float = 0.0  # saved for backward outside the layers a sample: embedders, RoPE tables, final layer, loss
    implementation: str = "pytorch-reference"  # whose saved tensors the bytes count (counts/saved.py)

    @property
    def forward_flops(self) -> float:
        """Trained model's forward FLOPs a sample."""
        layers = sum(s.linear_flops_per_layer for s in self.streams) + self.attention_flops_per_layer + self.cross_attention_flops_per_layer
        return self.num_layers * layers + self.other_flops

    @property
    def tokens(self) -> int:
        """Tokens a sample, all streams."""
        return sum(s.tokens for s in self.streams)


def saved_bytes_by_mode(saved_elements: dict[str, tuple[float, float]], activation_bytes: int) -> dict[str, float]:
    """Bytes a token saves in a layer, by recompute mode, from (activation, fp32) elements."""
    return {mode: act * activation_bytes + stats * FP32_BYTES for mode, (act, stats) in saved_elements.items()}


def frozen_encoder_costs(system: VideoSystemSpec, geo: ClipGeometry, text_tokens: int, workload: Workload) -> tuple[float, float, float]:
    """(forward FLOPs, weight bytes, working bytes) of the frozen encoders run online, a sample."""
    flops = weights = working = 0.0
    if not workload.precompute_text:
        caption = encoder_text_tokens(system.dit, text_tokens)
        for encoder in system.text_encoders:
            tokens = text_encoder_tokens(encoder, caption)
            flops += sum(text_encoder_flops(encoder, tokens).values())
            weights += BF16_BYTES * sum(text_encoder_params(encoder).values())
            working = max(working, FROZEN_ENCODER_LIVE_TENSORS * BF16_BYTES * text_encoder_working_elements(encoder, tokens))
    if not workload.precompute_latents:
        vae = system.vae
        flops += sum(vae_encoder_flops(vae, geo.frames, geo.height, geo.width).values())
        weights += BF16_BYTES * sum(vae_encoder_params(vae).values())
        widest = vae_encoder_working_elements(vae, geo.frames, geo.height, geo.width)
        working = max(working, FROZEN_ENCODER_LIVE_TENSORS * BF16_BYTES * widest)
    return flops, weights, working


def video_problem(system: VideoSystemSpec, stage: TrainingStage, workload: Workload, activation_bytes: int = BF16_BYTES,
                  implementation: str | None = None) -> TrainingProblem:
    """The DiT of a video system on one training stage's clips (activations of ``activation_bytes``), its saved
    tensors as ``implementation`` keeps them (None: the default stack's)."""
    dit = system.dit
    implementation = implementation or str(load_stack(default_stack()).saved_activations.value)
    geo = clip_geometry(system.vae, dit, stage.frames, stage.height, stage.width)
    summary = layer_summary(dit, geo.visual_tokens, stage.text_tokens, implementation)
    outside = outside_saved_bytes(dit, geo.visual_tokens, stage.text_tokens, implementation, activation_bytes)
    streams = tuple(
        Stream(name, s.tokens, s.width, s.linear_flops_per_layer, saved_bytes_by_mode(s.saved_elements, activation_bytes), s.tp_collectives_per_layer)
        for name, s in (("visual", summary.visual), ("text", summary.text))
    )
    frozen_flops, frozen_weights, frozen_working = frozen_encoder_costs(system, geo, stage.text_tokens, workload)
    return TrainingProblem(
        name=system.name,
        num_layers=summary.num_layers,
        heads=summary.heads,
        kv_heads=summary.heads,
        head_dim=summary.head_dim,
        streams=streams,
        attention_flops_per_layer=summary.attention_flops_per_layer,
        attention_seq=summary.attention_seq,
        other_flops=summary.other_flops,
        selective_recompute_flops_per_layer=0.0,
        trained_params=summary.trained_params,
        layer_params=summary.layer_params,
        block_params_total=summary.block_params_total,
        frozen_flops=frozen_flops,
        frozen_weight_bytes=frozen_weights,
        frozen_working_bytes=frozen_working,
        frozen_gemm_dim=text_encoder_gemm_width(system.text_encoders[0]),
        activation_bytes=activation_bytes,
        state_bytes_per_param=activation_bytes,
        cross_attention_flops_per_layer=summary.cross_attention_flops_per_layer,
        cross_attention_kv_tokens=summary.cross_attention_kv_tokens,
        outside_saved_bytes=sum(outside.values()),
        implementation=implementation,
    )


def gpt_saved_bytes_per_token(spec: GPTSpec, flash_attention: bool) -> dict[str, float]:
    """Korthikanti et al. 2022, Table 2, per token of one layer (before tensor-parallel division).

    none: h (34 + 5 a s / h) bytes, the s^2 term gone with flash attention; selective: 34 h; full: 2 h.
    """
    h, a, s = spec.hidden_size, spec.num_heads, spec.seq_len
    scores = 0 if flash_attention else 5 * a * s
    return {"none": 34 * h + scores, "selective": 34 * h, "full": 2 * h}


# The output layer's input and the logits the cross-entropy keeps, 4 bytes each per token (fp32 logits):
# Megatron-LM megatron/training/theoretical_memory_usage.py, "Inputs to output layer and CE loss",
# seq x micro-batch x hidden x 4 x (1 + vocab / hidden).
OUTPUT_LAYER_BYTES_PER_ELEMENT = FP32_BYTES


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
        outside_saved_bytes=spec.seq_len * OUTPUT_LAYER_BYTES_PER_ELEMENT * (spec.hidden_size + spec.vocab_size),
        implementation="megatron-te",
    )

"""A training problem reduced to what the step-time and memory models need: its layers kind by kind and in
order, and the parts outside the layers on the pipeline stages that hold them (counts/stages.py gives each
stage its own blocks: HunyuanVideo's dual-stream blocks hold 2.4x the weights of its single-stream ones).

Both families (the video DiT and the GPT used for back-testing) become one ``TrainingProblem``, so
the layout evaluation in ``step.py`` is written once. The per-layer averages (``streams``, the
``*_per_layer`` fields) describe the shapes the kernel tables are read at; sums over a stage come from
``layer_kinds`` in ``layer_sequence`` order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from estimators.catalog.stacks import default_stack, load_stack
from estimators.counts import blocks
from estimators.counts.dit import encoder_text_tokens, layer_summary
from estimators.counts.flops import gpt_forward_flops
from estimators.counts.geometry import ClipGeometry, clip_geometry
from estimators.counts.gpt import EAGER_LOSS, INPUT_ID_BYTES, MODES, LossKernel, gpt_gemm_inputs, gpt_layer_bytes, gpt_loss_bytes
from estimators.counts.lora import block_lora_params, gpt_lora_params, gpt_lora_saved_delta_bytes, outside_lora_params
from estimators.counts.params import gpt_params
from estimators.counts.saved import gemm_inputs, outside_saved_bytes
from estimators.counts.saved_autocast import AUTOCAST_BASE, saved_with_autocast
from estimators.counts.text_encoders import (
    text_encoder_flops,
    text_encoder_gemm_width,
    text_encoder_params,
    text_encoder_tokens,
    text_encoder_working_elements,
)
from estimators.counts.vaes import vae_encoder_flops, vae_encoder_params, vae_encoder_working_elements
from estimators.specs.dit_blocks import VideoDiTSpec
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.training import Training
from estimators.specs.workload import TrainingStage, Workload
from estimators.units import BF16_BYTES, FP32_BYTES

# Live activation tensors of a frozen conv encoder at its widest stage during a no-grad forward:
# the block input, one intermediate and the output (no autograd graph is kept).
FROZEN_ENCODER_LIVE_TENSORS = 3
FULL_TRAINING = Training()


@dataclass(frozen=True)
class Stream:
    """One token stream through every layer (visual or text; a GPT has one), averaged over the layers."""

    name: str
    tokens: int  # tokens a sample
    width: int  # activation width d: TP/PP traffic is tokens x d, and the matmul width before tp splits it
    linear_flops_per_layer: float  # forward matmul FLOPs a layer and sample (averaged over layers)
    saved_bytes_per_token: dict[str, float]  # bytes saved for backward a layer, by recompute mode (averaged over layers)
    tp_collectives_per_layer: float = 2.0  # tensor-parallel reductions a layer and pass (averaged over layers)


@dataclass(frozen=True)
class LayerKind:
    """One kind of layer (a block group of a DiT, a GPT's layer): what one layer of it holds and does a sample.
    Per-stream tuples follow ``TrainingProblem.streams``."""

    params: int  # every parameter of the layer
    trained_params: int  # those trained: all, or the LoRA adapters
    linear_flops: tuple[float, ...]  # forward matmul FLOPs a sample, per stream
    attention_flops: float  # score/value products a sample (forward)
    cross_attention_flops: float
    saved_bytes: tuple[dict[str, float], ...]  # per stream: recompute mode -> bytes a token saves
    replicated_bytes: tuple[dict[str, float], ...]  # of those, outside the tensor-parallel regions (split by tp only with sequence parallelism)
    tp_collectives: tuple[float, ...]  # per stream, tensor-parallel reductions a pass
    fp8_saved_less: tuple[dict[str, float], ...] = ()  # per stream: mode -> bytes a token saves less under Transformer Engine FP8


@dataclass(frozen=True)
class OutsideLayers:
    """What sits outside the repeated layers, by the pipeline stage that holds it: embedders (and a GPT's input
    embedding) on the first stage, the final layer (a GPT's output layer and its logits) and the loss on the
    last, RoPE tables on every stage that rotates. Saved bytes are a sample's, kept for every micro-batch in
    flight; the loss's working bytes are transient, one micro-batch at a time."""

    first_params: int = 0
    first_trained_params: int = 0
    last_params: int = 0
    last_trained_params: int = 0
    first_flops: float = 0.0  # forward FLOPs a sample
    last_flops: float = 0.0
    first_saved_bytes: float = 0.0
    last_saved_bytes: float = 0.0
    every_saved_bytes: float = 0.0
    loss_working_bytes: float = 0.0

    @property
    def saved_bytes(self) -> float:
        """Everything outside the layers one sample keeps, as if on one stage."""
        return self.first_saved_bytes + self.last_saved_bytes + self.every_saved_bytes


@dataclass(frozen=True)
class TrainingProblem:
    """Per-sample quantities of one training stage: per layer (averaged, and kind by kind in order) and outside."""

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
    layer_kinds: tuple[LayerKind, ...]
    layer_sequence: tuple[int, ...]  # the kind of each layer, in order (index into layer_kinds)
    outside: OutsideLayers
    activation_bytes: int = BF16_BYTES  # bytes of an activation value (what TP/CP/PP traffic carries)
    cross_attention_flops_per_layer: float = 0.0  # visual-to-text cross-attention products a layer and sample
    cross_attention_kv_tokens: int = 0  # keys one cross-attention query sees (the text tokens)
    state_bytes_per_param: int = BF16_BYTES  # bytes of a weight or gradient as held and communicated
    causal_attention: bool = False  # a causal mask: flash kernels skip the masked half (DiTs are bidirectional)
    implementation: str = "pytorch-reference"  # whose saved tensors the bytes count (counts/saved.py)
    training: Training = field(default=FULL_TRAINING)  # full training or LoRA, and the precision recipe of the states
    frozen_params: int = 0  # parameters held but not trained (LoRA's base weights)

    @property
    def forward_flops(self) -> float:
        """Trained model's forward FLOPs a sample."""
        layers = sum(s.linear_flops_per_layer for s in self.streams) + self.attention_flops_per_layer + self.cross_attention_flops_per_layer
        return self.num_layers * layers + self.other_flops

    @property
    def tokens(self) -> int:
        """Tokens a sample, all streams."""
        return sum(s.tokens for s in self.streams)

    @property
    def outside_saved_bytes(self) -> float:
        """Saved for backward outside the layers a sample (embedders, RoPE tables, final layer, loss)."""
        return self.outside.saved_bytes

    @property
    def all_params(self) -> int:
        """Trained and frozen parameters of the model (not the frozen encoders)."""
        return self.trained_params + self.frozen_params


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


def video_layer_kinds(dit: VideoDiTSpec, visual: int, text: int, implementation: str, training: Training,
                      activation_bytes: int, resident: int = 1) -> tuple[LayerKind, ...]:
    """One LayerKind per block group of the DiT on a clip of ``visual`` + ``text`` tokens (``text``: the tokens the
    blocks' text stream holds); each layer holds the weights of the ``resident`` experts (video_problem)."""
    kinds = []
    for group in dit.blocks:
        flops = blocks.block_flops(dit, group, visual, text)
        params = resident * blocks.block_params(dit, group)
        saved, replicated = ({}, {}), ({}, {})
        for mode in MODES:
            for index, per in enumerate(saved_with_autocast(dit, group, mode, implementation, training)):
                saved[index][mode] = per.activation * activation_bytes + per.stats * FP32_BYTES
                replicated[index][mode] = per.replicated * activation_bytes + per.replicated_stats * FP32_BYTES
        gemm = gemm_inputs(dit, group)
        fp8_less = tuple({"none": 0.0 if training.lora else float(g), "selective": 0.0, "full": 0.0} for g in gemm)
        kinds.append(LayerKind(
            params=params, trained_params=resident * block_lora_params(dit, group, training) if training.lora else params,
            linear_flops=(flops["linear_visual"], flops["linear_text"]), attention_flops=flops["attention"],
            cross_attention_flops=flops["cross_attention"], saved_bytes=saved, replicated_bytes=replicated,
            tp_collectives=tuple(float(n) for n in blocks.tp_collectives_per_block(group)), fp8_saved_less=fp8_less,
        ))
    return tuple(kinds)


def video_outside(dit: VideoDiTSpec, visual: int, caption: int, implementation: str, training: Training,
                  activation_bytes: int, resident: int = 1) -> OutsideLayers:
    """Embedders (and the blocks' per-sample modulation) on the first stage, RoPE tables on every stage, the
    final layer and the loss on the last; under LoRA only the token refiner's adapters are trained outside.
    ``caption``: the caption's text tokens; the stages hold the weights of the ``resident`` experts."""
    saved = outside_saved_bytes(dit, visual, caption, AUTOCAST_BASE.get(implementation, implementation), activation_bytes, training.lora)
    forward = blocks.video_dit_forward_flops(dit, visual, caption)
    first = resident * sum(blocks.embedder_params(dit).values())
    last = resident * blocks.final_layer_params(dit)
    return OutsideLayers(
        first_params=first, first_trained_params=resident * outside_lora_params(dit, training) if training.lora else first,
        last_params=last, last_trained_params=0 if training.lora else last,
        first_flops=forward["embeddings"] + forward["modulation"], last_flops=forward["final_layer"],
        first_saved_bytes=saved["patch_embed"] + saved["caption_proj"], every_saved_bytes=saved["rope_tables"],
        last_saved_bytes=saved["final_layer"] + saved["loss"],
    )


def averaged_streams(kinds: tuple[LayerKind, ...], sequence: tuple[int, ...], names, tokens, widths) -> tuple[Stream, ...]:
    """The streams with their per-layer averages over the layers in ``sequence``."""
    layers = len(sequence)
    streams = []
    for index, (name, count, width) in enumerate(zip(names, tokens, widths, strict=True)):
        chosen = [kinds[k] for k in sequence]
        streams.append(Stream(
            name, count, width, sum(k.linear_flops[index] for k in chosen) / layers,
            {mode: sum(k.saved_bytes[index][mode] for k in chosen) / layers for mode in MODES},
            sum(k.tp_collectives[index] for k in chosen) / layers,
        ))
    return tuple(streams)


def _params(kinds: tuple[LayerKind, ...], sequence: tuple[int, ...], outside: OutsideLayers) -> dict[str, int]:
    blocks_total = sum(kinds[k].params for k in sequence)
    trained = sum(kinds[k].trained_params for k in sequence) + outside.first_trained_params + outside.last_trained_params
    total = blocks_total + outside.first_params + outside.last_params
    return {"trained": trained, "frozen": total - trained, "blocks": blocks_total, "largest": max(k.params for k in kinds)}


def video_problem(system: VideoSystemSpec, stage: TrainingStage, workload: Workload, activation_bytes: int = BF16_BYTES,
                  implementation: str | None = None) -> TrainingProblem:
    """The DiT of a video system on one training stage's clips (activations of ``activation_bytes``), its saved
    tensors as ``implementation`` keeps them (None: the default stack's), trained as ``workload.training`` says.

    A model split into experts by noise level (Wan 2.2) runs each sample through one expert, so FLOPs, saved
    activations and the largest layer are one expert's; the parameters held and trained (weights, gradients,
    optimizer moments, the gradient exchange, the optimizer step) are those of the experts a run holds at once:
    one, or all of them (VideoSystemSpec.resident_experts). With all resident, each layer of a pipeline stage
    holds every expert's copy; under ZeRO-3 every expert's layers are counted as gathered each micro-batch (so
    block_params_total scales too: true when a micro-batch mixes noise levels, an upper bound otherwise).
    """
    dit, training, resident = system.dit, workload.training, system.resident_experts
    implementation = implementation or str(load_stack(default_stack()).saved_activations.value)
    geo = clip_geometry(system.vae, dit, stage.frames, stage.height, stage.width)
    visual, caption = geo.visual_tokens, stage.text_tokens
    text = blocks.block_text_tokens(dit, caption)
    summary = layer_summary(dit, visual, caption, implementation)
    kinds = video_layer_kinds(dit, visual, text, implementation, training, activation_bytes, resident)
    sequence = tuple(index for index, group in enumerate(dit.blocks) for _ in range(group.count))
    outside = video_outside(dit, visual, caption, implementation, training, activation_bytes, resident)
    streams = averaged_streams(kinds, sequence, ("visual", "text"), (visual, text), (dit.width, dit.text_stream_width))
    params = _params(kinds, sequence, outside)
    frozen_flops, frozen_weights, frozen_working = frozen_encoder_costs(system, geo, caption, workload)
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
        trained_params=params["trained"],
        layer_params=params["largest"] // resident,
        block_params_total=params["blocks"],
        frozen_flops=frozen_flops,
        frozen_weight_bytes=frozen_weights,
        frozen_working_bytes=frozen_working,
        frozen_gemm_dim=text_encoder_gemm_width(system.text_encoders[0]),
        layer_kinds=kinds,
        layer_sequence=sequence,
        outside=outside,
        activation_bytes=activation_bytes,
        state_bytes_per_param=activation_bytes,
        cross_attention_flops_per_layer=summary.cross_attention_flops_per_layer,
        cross_attention_kv_tokens=summary.cross_attention_kv_tokens,
        implementation=implementation,
        training=training,
        frozen_params=params["frozen"],
    )


def gpt_saved_bytes_per_token(spec: GPTSpec, flash_attention: bool, implementation: str = "megatron-te") -> dict[str, float]:
    """Bytes a token saves in one layer, by recompute mode (counts/gpt.py; Korthikanti et al. 2022, Table 2, for
    megatron-te: none h (34 + 5 a s / h) for GPT-3, the s^2 term gone with flash attention; selective 34 h; full 2 h)."""
    return {mode: layer.total for mode, layer in gpt_layer_bytes(spec, implementation, flash_attention).items()}


def gpt_layer_kind(spec: GPTSpec, flash_attention: bool, implementation: str, training: Training) -> LayerKind:
    """The GPT's one kind of layer."""
    forward = gpt_forward_flops(spec)
    layers = spec.num_layers
    params = gpt_params(spec)["layers"] // layers
    layer = gpt_layer_bytes(spec, implementation, flash_attention)
    saved, replicated = {}, {}
    for mode in MODES:
        delta = gpt_lora_saved_delta_bytes(spec, training, mode, BF16_BYTES) if training.lora else (0.0, 0.0)
        saved[mode], replicated[mode] = layer[mode].total + delta[0], layer[mode].replicated + delta[1]
    return LayerKind(
        params=params, trained_params=gpt_lora_params(spec, training) if training.lora else params,
        linear_flops=(forward["linear"] / layers,), attention_flops=forward["attention"] / layers, cross_attention_flops=0.0,
        saved_bytes=(saved,), replicated_bytes=(replicated,), tp_collectives=(2.0,),
        # Korthikanti's selective recompute keeps the matmul inputs too
        fp8_saved_less=({"none": 0.0 if training.lora else float(gpt_gemm_inputs(spec)),
                         "selective": 0.0 if training.lora else float(gpt_gemm_inputs(spec)), "full": 0.0},),
    )


def gpt_outside(spec: GPTSpec, implementation: str, training: Training, loss_kernel: LossKernel = EAGER_LOSS) -> OutsideLayers:
    """Input embedding on the first stage; final norm, output layer, logits and loss on the last (counts/gpt.py)."""
    params = gpt_params(spec)
    loss = gpt_loss_bytes(spec, implementation, loss_kernel)
    last = params["final_norm"] + params["output_layer"]
    s = spec.seq_len
    return OutsideLayers(
        first_params=params["embedding"], first_trained_params=0 if training.lora else params["embedding"],
        last_params=last, last_trained_params=0 if training.lora else last,
        last_flops=float(gpt_forward_flops(spec)["logits"]), first_saved_bytes=INPUT_ID_BYTES * s,
        last_saved_bytes=loss.saved * s, loss_working_bytes=loss.working * s,
    )


def gpt_problem(spec: GPTSpec, flash_attention: bool, name: str = "gpt", implementation: str = "megatron-te",
                training: Training = FULL_TRAINING, loss_kernel: LossKernel = EAGER_LOSS) -> TrainingProblem:
    """A GPT training a sequence of seq_len tokens per sample, its tensors saved as ``implementation`` keeps them and
    its loss run as ``loss_kernel`` says (eager or compiled, chunked or not)."""
    forward = gpt_forward_flops(spec)
    kind = gpt_layer_kind(spec, flash_attention, implementation, training)
    sequence = (0,) * spec.num_layers
    outside = gpt_outside(spec, implementation, training, loss_kernel)
    params = _params((kind,), sequence, outside)
    return TrainingProblem(
        name=name,
        num_layers=spec.num_layers,
        heads=spec.num_heads,
        kv_heads=spec.num_kv_heads,
        head_dim=spec.hidden_size // spec.num_heads,
        streams=averaged_streams((kind,), sequence, ("tokens",), (spec.seq_len,), (spec.hidden_size,)),
        attention_flops_per_layer=forward["attention"] / spec.num_layers,
        attention_seq=spec.seq_len,
        other_flops=forward["logits"],
        # Korthikanti's selective recompute re-runs the attention core (QK^T, softmax, AV).
        selective_recompute_flops_per_layer=forward["attention"] / spec.num_layers,
        trained_params=params["trained"],
        layer_params=params["largest"],
        block_params_total=params["blocks"],
        frozen_flops=0.0,
        frozen_weight_bytes=0.0,
        frozen_working_bytes=0.0,
        frozen_gemm_dim=spec.hidden_size,
        layer_kinds=(kind,),
        layer_sequence=sequence,
        outside=outside,
        causal_attention=True,
        implementation=implementation,
        training=training,
        frozen_params=params["frozen"],
    )

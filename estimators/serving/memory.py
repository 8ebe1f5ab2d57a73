"""Peak bytes per GPU of a replica serving a clip, phase by phase, and where the weights must live to fit.

A request runs three phases on a GPU: text encoding (encoder weights and its working set), denoising (the
DiT's weights and the largest live activations of a no-grad forward) and decoding (the VAE's weights and
its working set). Placements, in the order the official pipelines reach for them:
  resident  every component's weights on every GPU; the peak is all weights + the largest phase.
  model     components swapped between host and GPU around their phase (Wan's --offload_model, diffusers'
            enable_model_cpu_offload): the peak is the largest phase with its own weights.
  sharded   DiT and text encoder sharded over the replica (FSDP, Wan's --dit_fsdp --t5_fsdp), two layers
            gathered at a time; the VAE resident.
  streamed  the DiT's weights streamed from host memory every forward (diffusers'
            enable_sequential_cpu_offload), two of its largest blocks on the GPU; text encoder and VAE swapped.
Live activations of a no-grad forward, per token of the GPU's share: in attention the residual, the
normalised input, q, k, v and the output (six widths; Ulysses adds the four it receives), in the MLP the
residual and the normalised input beside two copies of the hidden state (pre- and post-activation; for a
gated MLP the width derived from its FLOPs already counts gate and up), whichever is larger. Runtime
reserve and allocator fragmentation as in training (memory/states.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.problem import TrainingProblem
from estimators.memory.states import FRAGMENTATION_FRACTION, RUNTIME_RESERVED_BYTES
from estimators.serving.forward import Placement
from estimators.serving.parallel import Split

ATTENTION_LIVE_WIDTHS = 6
ULYSSES_RECEIVED_WIDTHS = 4
MLP_OTHER_WIDTHS = 2
MLP_HIDDEN_COPIES = 2
GATHERED_LAYERS = 2  # the layer computing and the one prefetched (FSDP) or copied in (sequential offload)
PLACEMENTS = ("resident", "model", "sharded", "streamed")


def mlp_width(stream) -> float:
    """The MLP width a stream's FLOPs a token leave after the 4 w^2 of attention projections (time/step.py's
    stream_gemm_rate derivation): f = (F/2 - 4 w^2) / (2 w)."""
    w = stream.width
    return max((stream.linear_flops_per_layer / max(stream.tokens, 1) / 2 - 4 * w * w) / (2 * w), w)


def dit_activation_bytes(prob: TrainingProblem, split: Split, samples: int) -> float:
    """Largest live activations of one no-grad forward on one GPU (caption kept whole on every GPU)."""
    total = 0.0
    for i, stream in enumerate(prob.streams):
        share = split.sequence if i == 0 else 1
        attention = ATTENTION_LIVE_WIDTHS + (ULYSSES_RECEIVED_WIDTHS if split.ulysses > 1 else 0)
        per_token = max(attention * stream.width, MLP_OTHER_WIDTHS * stream.width + MLP_HIDDEN_COPIES * mlp_width(stream))
        total += stream.tokens / share * samples * per_token * prob.activation_bytes
    return total


@dataclass(frozen=True)
class PhaseBytes:
    """Weights and live bytes of the three phases of a request on one GPU."""

    dit_weights: float
    text_weights: float
    vae_weights: float
    dit_activations: float
    text_working: float
    vae_working: float
    largest_layer_weights: float


def placement_bytes(phases: PhaseBytes, placement: Placement) -> dict[str, float]:
    """Bytes by part at the peak of a request under ``placement`` (before reserve and fragmentation)."""
    p = phases
    if placement.mode == "resident":
        weights = {"dit_weights": p.dit_weights, "text_encoder_weights": p.text_weights, "vae_weights": p.vae_weights}
        return {**weights, **_largest_phase(p, with_weights=False)}
    if placement.mode == "model":
        return _largest_phase(p, with_weights=True)
    if placement.mode == "sharded":
        n = placement.shards
        dit = p.dit_weights / n + GATHERED_LAYERS * p.largest_layer_weights
        weights = {"dit_weights": dit, "text_encoder_weights": p.text_weights / n, "vae_weights": p.vae_weights}
        return {**weights, **_largest_phase(p, with_weights=False)}
    streamed = PhaseBytes(dit_weights=GATHERED_LAYERS * p.largest_layer_weights, text_weights=p.text_weights, vae_weights=p.vae_weights,
                          dit_activations=p.dit_activations, text_working=p.text_working, vae_working=p.vae_working,
                          largest_layer_weights=p.largest_layer_weights)
    return _largest_phase(streamed, with_weights=True)


def _largest_phase(p: PhaseBytes, with_weights: bool) -> dict[str, float]:
    """The phase that needs the most bytes (with its own weights when components are swapped)."""
    phases = [
        {"text_encoder_weights": p.text_weights, "text_encoder_working": p.text_working},
        {"dit_weights": p.dit_weights, "dit_activations": p.dit_activations},
        {"vae_weights": p.vae_weights, "vae_decode_working": p.vae_working},
    ]
    if not with_weights:
        phases = [{k: v for k, v in phase.items() if not k.endswith("_weights")} for phase in phases]
    return max(phases, key=lambda phase: sum(phase.values()))


def with_overheads(parts: dict[str, float]) -> dict[str, float]:
    """Parts plus the runtime reserve and fragmentation, every key present (0 when absent), and the total."""
    keys = ("dit_weights", "text_encoder_weights", "vae_weights", "dit_activations", "text_encoder_working", "vae_decode_working")
    out = {k: float(parts.get(k, 0.0)) for k in keys}
    subtotal = sum(out.values())
    out["runtime_reserved"] = float(RUNTIME_RESERVED_BYTES)
    out["fragmentation"] = FRAGMENTATION_FRACTION * subtotal
    out["total"] = subtotal + out["runtime_reserved"] + out["fragmentation"]
    return out

"""Encoding a request's prompts with the frozen text encoder(s): FLOPs (exact counts), time on a device,
weights and working set.

A guided request encodes its prompt and the negative prompt (Wan's context and context_null, diffusers'
negative_prompt_embeds); a third branch reuses one of them; a guidance-distilled model encodes the prompt
alone. Matmuls run at the GEMM efficiency of the encoder's width with as many rows as tokens, in BF16.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from estimators.counts.dit import encoder_text_tokens
from estimators.counts.problem import FROZEN_ENCODER_LIVE_TENSORS
from estimators.counts.text_encoders import (
    text_encoder_flops,
    text_encoder_gemm_width,
    text_encoder_params,
    text_encoder_tokens,
    text_encoder_working_elements,
)
from estimators.serving.machine import Machine
from estimators.specs.models import VideoSystemSpec
from estimators.specs.serving import Guidance, guidance_branches

MAX_DISTINCT_PROMPTS = 2  # the prompt and the negative prompt; a third guidance branch reuses one of them


def prompts_encoded(guidance: Guidance) -> int:
    """Prompts a request encodes."""
    return min(guidance_branches(guidance), MAX_DISTINCT_PROMPTS)


def encoder_layers(encoder) -> int:
    """Layers of one encoder that run (an LLM encoder stops at the hidden state the DiT reads)."""
    return getattr(encoder, "layers_run", None) or encoder.num_layers


@dataclass(frozen=True)
class TextCost:
    """The encoders on one request."""

    seconds: float
    flops: float
    weight_bytes: float
    working_bytes: float


def text_cost(system: VideoSystemSpec, text_tokens: int, guidance: Guidance, machine: Machine, requests: int = 1) -> TextCost:
    """Encoding ``requests`` requests' prompts on one device."""
    return encoders_cost(system.text_encoders, encoder_text_tokens(system.dit, text_tokens), guidance, machine, requests)


@lru_cache(maxsize=1024)
def encoders_cost(encoders: tuple, caption: int, guidance: Guidance, machine: Machine, requests: int) -> TextCost:
    """Encoding ``requests`` requests' prompts of ``caption`` tokens with ``encoders`` (memoised: a replica
    search asks it for every split and placement)."""
    prompts = prompts_encoded(guidance) * requests
    seconds = flops = weights = working = 0.0
    for encoder in encoders:
        tokens = text_encoder_tokens(encoder, caption)
        width = text_encoder_gemm_width(encoder)
        one = sum(text_encoder_flops(encoder, tokens).values())
        rate = float(machine.rates.high_precision_gemm(tokens, width, width))
        seconds += prompts * (one / rate + encoder_layers(encoder) * machine.profile.layer_overhead_s)
        flops += prompts * one
        weights += machine.activation_bytes * sum(text_encoder_params(encoder).values())
        working = max(working, FROZEN_ENCODER_LIVE_TENSORS * machine.activation_bytes * text_encoder_working_elements(encoder, tokens) * prompts)
    return TextCost(seconds=seconds, flops=flops, weight_bytes=weights, working_bytes=working)

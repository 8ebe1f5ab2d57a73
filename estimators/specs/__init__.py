"""Inputs: frozen pydantic specs of models (DiT blocks, text encoders, VAEs), hardware, layouts, workloads,
stacks and device profiles, their bounds, and the one translator of validation errors into plain words.

May import: pydantic, numpy, estimators.errors/units/results.
"""
from estimators.specs.asymm_dit import AsymmDiTSpec, asymm_to_video_dit
from estimators.specs.base import Spec
from estimators.specs.models import GPTSpec, VideoSystemSpec
from estimators.specs.text_encoders import T5EncoderSpec
from estimators.specs.vaes import VAEStage, VideoVAESpec

__all__ = [
    "Spec",
    "AsymmDiTSpec",
    "asymm_to_video_dit",
    "GPTSpec",
    "T5EncoderSpec",
    "VAEStage",
    "VideoSystemSpec",
    "VideoVAESpec",
]

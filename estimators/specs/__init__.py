"""Frozen pydantic specs: models, workload, hardware, parallel layout."""
from estimators.specs.base import Spec
from estimators.specs.models import AsymmDiTSpec, GPTSpec, VideoSystemSpec
from estimators.specs.text_encoders import T5EncoderSpec
from estimators.specs.vaes import VAEStage, VideoVAESpec

__all__ = [
    "Spec",
    "AsymmDiTSpec",
    "GPTSpec",
    "T5EncoderSpec",
    "VAEStage",
    "VideoSystemSpec",
    "VideoVAESpec",
]

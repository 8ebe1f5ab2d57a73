"""Frozen pydantic specs: models, workload, hardware, parallel layout."""
from estimators.specs.base import Spec
from estimators.specs.models import (
    AsymmDiTSpec,
    GPTSpec,
    T5EncoderSpec,
    VAEStage,
    VideoSystemSpec,
    VideoVAESpec,
)

__all__ = [
    "Spec",
    "AsymmDiTSpec",
    "GPTSpec",
    "T5EncoderSpec",
    "VAEStage",
    "VideoSystemSpec",
    "VideoVAESpec",
]

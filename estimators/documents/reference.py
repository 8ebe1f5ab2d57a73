"""The documents of the reference-model commands (`plan reference evaluate --json`, `plan profile --json`).

Built by reference_model/ (torch); defined here, with the planner's other documents, so `plan schema`
gives their schema on the core install.
"""
from __future__ import annotations

from typing import Literal, Union

from pydantic import Field

from estimators.results import Document, Result
from estimators.specs.profile import DeviceProfile


class ReferenceEvaluation(Document):
    """`plan reference evaluate --json`: prompt adherence and temporal consistency of the trained reference DiT on held-out
    prompts, against an untrained DiT with the same VAE."""

    kind: Literal["reference-evaluate"] = "reference-evaluate"
    adherence: float = Field(description="Share of colour and direction read back correctly from the generated frames, 0-1.")
    baseline_adherence: float = Field(description="The same for the untrained DiT.")
    colour: float
    direction: float
    baseline_colour: float
    baseline_direction: float
    temporal_consistency: float = Field(description="Mean similarity of consecutive frames, 0-1.")
    baseline_temporal_consistency: float
    prompts: int = Field(description="Held-out prompts scored (attribute combinations never seen in training).")
    checkpoint_step: int = Field(description="DiT step of the scored checkpoint.")
    config: dict[str, Union[bool, int, float, str]] = Field(description="The run's training settings (its config's training section).")


class CollectiveBytes(Result):
    """Bytes one collective moved in a multi-process gloo run, against the estimators' count."""

    name: str
    measured_bytes: int
    predicted_bytes: float


class ProfileResult(Document):
    """`plan profile --json`: the estimators held to the reference model measured on this machine."""

    kind: Literal["profile"] = "profile"
    step_time_median_abs_error: float = Field(description="Held-out configs, predicted / measured - 1, median of the absolute values.")
    activation_memory_median_abs_error: float
    calibration_step_time_median_abs_error: float = Field(description="The same on the configs the profile was fitted to.")
    held_out_configs: int
    collectives: list[CollectiveBytes]
    device_profile: DeviceProfile = Field(description="The fitted profile of this machine.")
    machine: dict[str, Union[int, str]] = Field(description="Platform, processor, threads, torch version.")
    files: list[str] = Field(description="What the run wrote into its folder.")

"""Training stacks (data/stacks/stacks.yaml): which communication each overlaps with compute.

Each overlap is a named, sourced property of a stack (Megatron-Core / NeMo, Megatron-LM 2021, PyTorch
FSDP2, none), not a fitted fraction; step.py turns each into exposed seconds.
"""
from __future__ import annotations

from pydantic import Field

from estimators.specs.base import Spec


class StackProperty(Spec):
    """One property with its source."""

    value: float | bool = Field(description="The property.")
    source: str = Field(description="Where it comes from.")
    date: str = Field(description="Version date of the source.")


class TrainingStack(Spec):
    """How a software stack overlaps communication."""

    name: str = Field(description="Stack name, as --stack takes it.")
    description: str = Field(description="What exactly the entry describes.")
    param_gather_overlap: StackProperty
    grad_reduce_overlap: StackProperty
    grad_bucket_params: StackProperty
    tp_comm_overlap: StackProperty
    cp_comm_overlap: StackProperty

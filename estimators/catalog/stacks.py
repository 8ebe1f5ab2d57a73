"""Training stacks (data/stacks/stacks.yaml): which communication each overlaps with compute.

Each overlap is a named, sourced property of a stack (Megatron-Core / NeMo, Megatron-LM 2021, PyTorch
FSDP2, none), not a fitted fraction; step.py turns each into exposed seconds.
"""
from __future__ import annotations

from functools import lru_cache

from estimators.catalog.files import read_data
from estimators.errors import PlanInputError
from estimators.specs.stack import TrainingStack


@lru_cache(maxsize=None)
def _data() -> dict:
    return read_data("stacks", "stacks.yaml")


def stack_names() -> tuple[str, ...]:
    """Every stack the data names."""
    return tuple(_data()["stacks"])


def default_stack() -> str:
    """The stack a plan assumes unless --stack says otherwise."""
    return _data()["default"]


@lru_cache(maxsize=None)
def load_stack(name: str) -> TrainingStack:
    """A stack by name, or a one-line error listing the known ones."""
    if name not in _data()["stacks"]:
        raise PlanInputError(f"--stack {name}: expected one of {', '.join(stack_names())}")
    return TrainingStack(name=name, **_data()["stacks"][name])

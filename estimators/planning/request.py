"""What a plan is asked: the system, the workload, the cluster and the choices around them."""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from estimators.search.alternatives import DEFAULT_RANKED, LayoutsListed
from estimators.specs.base import Spec
from estimators.specs.hardware import Cluster, GPUSpec
from estimators.specs.layout import Layout
from estimators.specs.models import VideoSystemSpec
from estimators.specs.workload import Workload

Precision = Literal["bf16", "fp8"]


class PlanRequest(Spec):
    """Everything a plan depends on, given by keyword."""

    system: VideoSystemSpec
    workload: Workload
    cluster: Cluster
    precision: Precision = "bf16"
    layout: Optional[Layout] = Field(default=None, description="A fixed layout; None: search.")
    pinned: dict[str, Union[int, str]] = Field(default_factory=dict, description="Knobs pinned for the search (names as in Layout).")
    objective: Literal["time", "cost"] = "time"
    gpu_kinds: tuple[GPUSpec, ...] = Field(default=(), description="GPU kinds named without counts: the deadline/budget search's.")
    kernel: Optional[str] = Field(default=None, description="Attention kernel; None: the GPU's default.")
    stack: Optional[str] = Field(default=None, description="Training stack; None: the default stack.")
    valid_layouts_only: bool = Field(default=False, description="Time only valid layouts that fit (the fleet search's per-size plans).")
    ranked_layouts: LayoutsListed = Field(default=DEFAULT_RANKED, description="Best layouts the plan lists.")

"""Plans over a grid of choices, as pandas DataFrames (for notebooks and reports; no new formulas)."""
from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np
import pandas as pd

from estimators.catalog.gpus import parse_cluster
from estimators.catalog.models import load_model
from estimators.errors import PlanInputError
from estimators.planning.estimate import plan
from estimators.planning.request import PlanRequest
from estimators.planning.results import Plan
from estimators.specs.layout_arrays import RECOMPUTE_NAMES
from estimators.specs.models import VideoSystemSpec
from estimators.specs.workload import TrainingStage, Workload
from estimators.units import GIB

DEFAULT_STAGE = dict(height=480, width=848, frames=163, fps=30.0, text_tokens=256, num_clips=10_000_000, epochs=1.0, global_batch=512)
COLUMNS = ("step_time_s", "mfu", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def plan_request(gpus: str = "H100x512", model: str | VideoSystemSpec = "mochi-10b", precompute_text: bool = True,
                 precompute_latents: bool = True, precision: str = "bf16", stages: Iterable[dict] | None = None,
                 experts_resident: str | None = None, **stage) -> PlanRequest:
    """A plan request from keyword choices (a preset name, file or spec as the model; stage keywords override
    the defaults and the model's default clip; ``stages`` gives several; ``experts_resident`` 'one' or 'all'
    for a model split into experts, None: as its file says)."""
    stage_dicts = list(stages) if stages else [stage]
    system = model if isinstance(model, VideoSystemSpec) else load_model(model)
    system = system.with_expert_residency(experts_resident)
    defaults = {**DEFAULT_STAGE, **system.default_clip.model_dump()}  # the model's own clip unless given
    workload = Workload(
        stages=tuple(TrainingStage(**{**defaults, **s}) for s in stage_dicts),
        precompute_text=precompute_text, precompute_latents=precompute_latents,
    )
    return PlanRequest(system=system, workload=workload, cluster=parse_cluster(gpus), precision=precision)


def plan_for(**choices) -> Plan:
    """The plan for one set of choices (see plan_request)."""
    return plan(plan_request(**choices))


def search_frame(**choices) -> pd.DataFrame:
    """Every layout the search evaluated for the (last stage of the) plan, one row each."""
    result = plan(plan_request(**choices)).last.search_result
    lay, ev = result.layouts, result.evaluation
    frame = pd.DataFrame({name: getattr(lay, name) for name in ("tp", "cp", "pp", "dp", "zero", "micro_batch", "vpp")})
    frame["recompute"] = [RECOMPUTE_NAMES[int(c)] for c in lay.recompute]
    frame["cp_kind"] = np.where(lay.cp_ring, "ring", "ulysses")
    time = ev.time
    frame["valid"], frame["fits"], frame["reason"] = ev.valid, ev.fits, ev.reason
    frame["step_time_s"], frame["bubble_fraction"] = time.step_time_s, time.bubble_fraction
    frame["compute_s"] = time.compute_s
    for key in ("tensor_parallel_s", "context_parallel_s", "data_parallel_exposed_s"):
        frame[key] = getattr(time, key)
    frame["memory_gib"] = ev.memory.total / GIB
    return frame


def sweep(**axes) -> pd.DataFrame:
    """One row per combination of the given axes (each a list), with the headline figures and the layout.

    Combinations that have no valid fitting layout get NaN figures and the reason in 'note'.
    """
    names = list(axes)
    rows = []
    for values in itertools.product(*(axes[n] for n in names)):
        choice = dict(zip(names, values))
        try:
            result = plan_for(**choice)
            lay = result.layout
            row = {**choice, **{c: getattr(result, c) for c in COLUMNS}, "memory_gib": result.memory_per_gpu_bytes.total / GIB,
                   "layout": f"tp{lay.tp} cp{lay.cp} pp{lay.pp} dp{lay.dp} z{lay.zero} {lay.recompute}", "note": ""}
        except PlanInputError as exc:
            row = {**choice, **{c: float("nan") for c in COLUMNS}, "memory_gib": float("nan"), "layout": "", "note": str(exc)}
        rows.append(row)
    return pd.DataFrame(rows)

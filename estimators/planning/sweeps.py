"""Plans over a grid of choices, as pandas DataFrames (for notebooks and reports; no new formulas)."""
from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np
import pandas as pd

from estimators.catalog.gpus import parse_cluster
from estimators.catalog.models import load_model
from estimators.documents.document import plan_document
from estimators.errors import PlanInputError
from estimators.planning.estimate import PlanRequest, plan
from estimators.specs.layout_arrays import RECOMPUTE_NAMES
from estimators.specs.models import VideoSystemSpec
from estimators.specs.workload import TrainingStage, Workload

DEFAULT_STAGE = dict(height=480, width=848, frames=163, fps=30.0, text_tokens=256, num_clips=10_000_000, epochs=1.0, global_batch=512)
COLUMNS = ("step_time_s", "mfu", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def plan_request(gpus: str = "H100x512", model: str | VideoSystemSpec = "mochi-10b", precompute_text: bool = True,
                 precompute_latents: bool = True, precision: str = "bf16", stages: Iterable[dict] | None = None, **stage) -> PlanRequest:
    """A plan request from keyword choices (a preset name, file or spec as the model; stage keywords override
    the defaults and the model's default clip; ``stages`` gives several)."""
    stage_dicts = list(stages) if stages else [stage]
    system = model if isinstance(model, VideoSystemSpec) else load_model(model)
    defaults = {**DEFAULT_STAGE, **system.default_clip.model_dump()}  # the model's own clip unless given
    workload = Workload(
        stages=tuple(TrainingStage(**{**defaults, **s}) for s in stage_dicts),
        precompute_text=precompute_text, precompute_latents=precompute_latents,
    )
    return PlanRequest(system, workload, parse_cluster(gpus), precision)


def plan_for(**choices) -> dict:
    """The plan document for one set of choices (see plan_request)."""
    return plan_document(plan(plan_request(**choices)))


def search_frame(**choices) -> pd.DataFrame:
    """Every layout the search evaluated for the (last stage of the) plan, one row each."""
    result = plan(plan_request(**choices))["last"]["search"]
    lay, m = result.layouts, result.metrics
    frame = pd.DataFrame({name: getattr(lay, name) for name in ("tp", "cp", "pp", "dp", "zero", "micro_batch", "vpp")})
    frame["recompute"] = [RECOMPUTE_NAMES[int(c)] for c in lay.recompute]
    frame["cp_kind"] = np.where(lay.cp_ring, "ring", "ulysses")
    for key in ("valid", "fits", "step_time_s", "bubble_fraction", "compute_s", "tensor_parallel_s", "context_parallel_s", "data_parallel_exposed_s"):
        frame[key] = m[key]
    frame["memory_gib"] = m["memory"]["total"] / 2**30
    frame["reason"] = m["reason"]
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
            doc = plan_for(**choice)
            layout = doc["layout"]
            row = {**choice, **{c: doc[c] for c in COLUMNS}, "memory_gib": doc["memory_per_gpu_bytes"]["total"] / 2**30,
                   "layout": f"tp{layout['tp']} cp{layout['cp']} pp{layout['pp']} dp{layout['dp']} z{layout['zero']} {layout['recompute']}",
                   "note": ""}
        except PlanInputError as exc:
            row = {**choice, **{c: float("nan") for c in COLUMNS}, "memory_gib": float("nan"), "layout": "", "note": str(exc)}
        rows.append(row)
    return pd.DataFrame(rows)

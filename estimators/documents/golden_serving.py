"""Golden serving scenarios: stored `plan serve` figures that a code or data change must not move unnoticed.

``serving_scenarios.json`` lists the inputs (model, GPU kinds, optionally a clip, sampler and demand);
``serving_expected.json`` holds the figures computed from them: one clip's service time, split and memory
on 1 and on the largest replica of every kind, and the fleet chosen for the demand. Checked beside the
training scenarios by `plan golden` when the folder has a serving_scenarios.json.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from estimators.catalog.files import read_document
from estimators.catalog.gpus import parse_gpus
from estimators.catalog.models import load_model
from estimators.documents.docdiff import diff
from estimators.documents.golden import GOLDEN_TOLERANCE
from estimators.documents.outputs import write_bytes
from estimators.errors import PlanInputError
from estimators.serving.plan import serve_plan
from estimators.serving.request import serve_request_for
from estimators.specs.messages import Spelling, plain_words
from estimators.specs.serving import Demand

SCENARIOS, EXPECTED = "serving_scenarios.json", "serving_expected.json"
REQUEST_KEYS = {"frames", "height", "width", "fps", "text_tokens", "steps", "guidance", "precision", "kernel", "vae_precision", "vae_tiling"}
DEMAND_KEYS = {"clips_per_hour", "percentile", "latency_target_s", "availability", "hourly_profile"}
KEYS = {"id", "model", "gpus", "batches"} | REQUEST_KEYS | DEMAND_KEYS
CHOICE_FIGURES = ("gpu", "gpus_per_replica", "batch", "split", "replicas", "p95_s", "cost_per_clip_usd")


def has_serving_scenarios(directory: Path) -> bool:
    return (directory / SCENARIOS).is_file()


def _read(path: Path):
    """A scenarios or expected file through the one reader (repeated keys and deep nesting refused)."""
    if not path.is_file():
        raise PlanInputError(f"cannot read {path}: {'not a regular file' if path.exists() else 'no such file'}")
    return read_document(path)


def load_serving_scenarios(directory: Path) -> list[dict]:
    """The scenarios, each a mapping with a new text id and known keys."""
    path = directory / SCENARIOS
    scenarios = _read(path)
    if not isinstance(scenarios, list) or not scenarios:
        raise PlanInputError(f"{path}: expected a non-empty list of scenarios")
    seen = set()
    for s in scenarios:
        if not isinstance(s, dict) or not isinstance(s.get("id"), str) or s["id"] in seen:
            raise PlanInputError(f"{path}: every scenario needs a new text 'id'")
        seen.add(s["id"])
        unknown = sorted(set(s) - KEYS)
        if unknown:
            raise PlanInputError(f"{path}: scenario {s['id']}: unknown key {unknown[0]} (known: {', '.join(sorted(KEYS))})")
    return scenarios


def scenario_figures(scenario: dict) -> dict:
    """The stored figures of one scenario."""
    choice = parse_gpus(scenario.get("gpus", "H100"))
    kinds = choice.kinds or (choice.cluster.gpu,)
    demand_values = {k: scenario[k] for k in DEMAND_KEYS if k in scenario}
    request = serve_request_for(
        load_model(scenario["model"]), kinds, fixed_replica_gpus=None if choice.cluster is None else choice.cluster.num_gpus,
        batches=tuple(scenario.get("batches", (1,))), demand=Demand(**demand_values) if demand_values else None,
        **{k: scenario[k] for k in REQUEST_KEYS if k in scenario},
    )
    plan = serve_plan(request)
    figures = {"dit_forward_flops": plan.dit_forward_flops, "visual_tokens": plan.clip.visual_tokens}
    for kind in plan.kinds:
        for option in (kind.by_size[0], kind.by_size[-1]) if kind.by_size else ():
            key = f"{kind.gpu}x{option.gpus}"
            figures[key] = {"split": option.split, "placement": option.placement, "service_s": option.service_s,
                            "memory_bytes": option.memory.total, "clips_per_hour": option.clips_per_hour}
    if plan.choice is not None:
        figures["choice"] = {k: getattr(plan.choice, k) for k in CHOICE_FIGURES}
    return figures


def compute_serving(directory: Path) -> dict:
    figures = {}
    for scenario in load_serving_scenarios(directory):
        try:
            figures[scenario["id"]] = scenario_figures(scenario)
        except (ValidationError, TypeError) as exc:
            detail = plain_words(exc, Spelling(origin=f"{SCENARIOS}: {scenario['id']}")) if isinstance(exc, ValidationError) else str(exc)
            raise PlanInputError(f"{directory / SCENARIOS}: scenario {scenario['id']}: {detail}") from None
    return figures


def check_serving(directory: Path) -> list[dict]:
    """What moved beyond the tolerance against serving_expected.json."""
    load_serving_scenarios(directory)
    expected = _read(directory / EXPECTED)
    if not isinstance(expected, dict):
        raise PlanInputError(f"{directory / EXPECTED}: expected a mapping of scenario id to figures")
    return diff(expected, compute_serving(directory), GOLDEN_TOLERANCE)


def update_serving(directory: Path) -> int:
    figures = compute_serving(directory)
    write_bytes(directory / EXPECTED, (json.dumps(figures, indent=1, sort_keys=True) + "\n").encode(), "golden")
    return len(figures)

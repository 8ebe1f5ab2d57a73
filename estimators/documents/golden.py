"""Golden scenarios: stored estimates that a code or data change must not move unnoticed.

``scenarios.json`` lists the inputs (model x GPU x cluster size x clip); ``expected.json`` holds the
figures computed from them. A figure whose relative change exceeds GOLDEN_TOLERANCE fails the check;
layouts must match exactly. ``plan golden --update`` rewrites expected.json deliberately.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from pydantic import ValidationError

from estimators.catalog.files import read_document
from estimators.documents.docdiff import diff
from estimators.documents.outputs import write_bytes
from estimators.errors import PlanInputError
from estimators.planning.sweeps import plan_for, plan_request
from estimators.specs.messages import Spelling, plain_words
from estimators.specs.workload import TrainingStage

GOLDEN_TOLERANCE = 1e-3  # 0.1%: far above float noise, far below any real change of a model or figure
# What a scenario may set: plan_request's choices and a stage's fields.
SCENARIO_KEYS = (set(inspect.signature(plan_request).parameters) - {"stage"}) | set(TrainingStage.model_fields)
TEXT_KEYS = ("gpus", "model", "precision", "experts_resident")
FIGURES = ("step_time_s", "mfu", "tflops_per_gpu", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def scenario_figures(scenario: dict) -> dict:
    """The stored figures of one scenario."""
    inputs = {k: v for k, v in scenario.items() if k != "id"}
    result = plan_for(**inputs)
    return {
        "params_dit": result.params.dit,
        "dit_forward_flops": result.flops_per_sample.dit_forward,
        "train_step_flops": result.flops_per_sample.train_step_total,
        "visual_tokens": result.tokens_per_sample.visual,
        "memory_per_gpu_bytes": result.memory_per_gpu_bytes.total,
        "layout": result.layout.model_dump(),
        **{k: getattr(result, k) for k in FIGURES},
    }


def _read_json(path: Path):
    """A scenarios or expected file through the one reader (repeated keys and deep nesting refused)."""
    if not path.is_file():
        raise PlanInputError(f"cannot read {path}: {'not a regular file' if path.exists() else 'no such file'}")
    return read_document(path)


def _check_scenario(scenario, path: Path, seen: set) -> None:
    """One-line errors for a scenario that is not a mapping with a new id and known keys of the right kind."""
    if not isinstance(scenario, dict) or not isinstance(scenario.get("id"), str):
        raise PlanInputError(f"{path}: expected a list of mappings, each with a text 'id'; got {str(scenario)[:60]}")
    where = f"{path}: scenario {scenario['id']}"
    if scenario["id"] in seen:
        raise PlanInputError(f"{where}: id used twice")
    seen.add(scenario["id"])
    unknown = sorted(set(scenario) - {"id"} - SCENARIO_KEYS)
    if unknown:
        raise PlanInputError(f"{where}: unknown key {unknown[0]} (known: {', '.join(sorted(SCENARIO_KEYS))})")
    for key in TEXT_KEYS:
        if key in scenario and not isinstance(scenario[key], str):
            raise PlanInputError(f"{where}: {key}: expected text, got {scenario[key]!r}")
    stages = scenario.get("stages")
    if stages is not None and not (isinstance(stages, list) and stages and all(isinstance(s, dict) for s in stages)):
        raise PlanInputError(f"{where}: stages: expected a non-empty list of mappings")


def load_scenarios(directory: Path) -> list[dict]:
    """The scenarios of ``directory/scenarios.json``, checked."""
    path = directory / "scenarios.json"
    scenarios = _read_json(path)
    if not isinstance(scenarios, list) or not scenarios:
        raise PlanInputError(f"{path}: expected a non-empty list of scenarios")
    seen: set = set()
    for scenario in scenarios:
        _check_scenario(scenario, path, seen)
    return scenarios


def compute(directory: Path) -> dict:
    """Figures of every scenario in ``directory/scenarios.json``, keyed by scenario id."""
    path = directory / "scenarios.json"
    figures = {}
    for scenario in load_scenarios(directory):
        try:
            figures[scenario["id"]] = scenario_figures(scenario)
        except ValidationError as exc:  # a stage or cluster out of its spec's bounds
            raise PlanInputError(plain_words(exc, Spelling(origin=f"{path}: scenario {scenario['id']}"))) from None
    return figures


def check(directory: Path) -> list[dict]:
    """What moved beyond the tolerance against ``directory/expected.json``."""
    load_scenarios(directory)  # a bad scenarios file is named before a missing expected.json
    expected = _read_json(directory / "expected.json")
    if not isinstance(expected, dict):
        raise PlanInputError(f"{directory / 'expected.json'}: expected a mapping of scenario id to figures")
    return diff(expected, compute(directory), GOLDEN_TOLERANCE)


def update(directory: Path) -> int:
    """Recompute and rewrite expected.json atomically; returns the number of scenarios."""
    figures = compute(directory)
    write_bytes(directory / "expected.json", (json.dumps(figures, indent=1, sort_keys=True) + "\n").encode(), "golden")
    return len(figures)

"""Golden scenarios: stored estimates that a code or data change must not move unnoticed.

``scenarios.json`` lists the inputs (model x GPU x cluster size x clip); ``expected.json`` holds the
figures computed from them. A figure whose relative change exceeds GOLDEN_TOLERANCE fails the check;
layouts must match exactly. ``plan golden --update`` rewrites expected.json deliberately.
"""
from __future__ import annotations

import json
from pathlib import Path

from estimators.docdiff import diff
from estimators.sweeps import plan_for

GOLDEN_TOLERANCE = 1e-3  # 0.1%: far above float noise, far below any real change of a model or figure
FIGURES = ("step_time_s", "mfu", "tflops_per_gpu", "train_time_days", "gpu_hours", "cost_usd", "energy_kwh")


def scenario_figures(scenario: dict) -> dict:
    """The stored figures of one scenario."""
    inputs = {k: v for k, v in scenario.items() if k != "id"}
    doc = plan_for(**inputs)
    return {
        "params_dit": doc["params"]["dit"],
        "dit_forward_flops": doc["flops_per_sample"]["dit_forward"],
        "train_step_flops": doc["flops_per_sample"]["train_step_total"],
        "visual_tokens": doc["tokens_per_sample"]["visual"],
        "memory_per_gpu_bytes": doc["memory_per_gpu_bytes"]["total"],
        "layout": doc["layout"],
        **{k: doc[k] for k in FIGURES},
    }


def compute(directory: Path) -> dict:
    """Figures of every scenario in ``directory/scenarios.json``, keyed by scenario id."""
    scenarios = json.loads((directory / "scenarios.json").read_text())
    return {s["id"]: scenario_figures(s) for s in scenarios}


def check(directory: Path) -> list[dict]:
    """What moved beyond the tolerance against ``directory/expected.json``."""
    expected = json.loads((directory / "expected.json").read_text())
    return diff(expected, compute(directory), GOLDEN_TOLERANCE)


def update(directory: Path) -> int:
    """Recompute and rewrite expected.json atomically; returns the number of scenarios."""
    figures = compute(directory)
    path = directory / "expected.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    return len(figures)

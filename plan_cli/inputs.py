"""Turning command-line strings into specs; every failure is a one-line PlanInputError."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import ValidationError

from estimators.catalog.files import read_mapping
from estimators.errors import PlanInputError
from estimators.specs.layout import Layout
from estimators.specs.workload import TrainingStage, Workload
from plan_cli.messages import plain_error
from plan_cli.validation import check_stage, check_stage_count, check_workload

DEGREES = ("tp", "pp", "cp", "dp")
INT_KEYS = {"tp", "pp", "cp", "dp", "zero", "micro_batch", "vpp", "height", "width", "frames", "steps", "num_clips", "global_batch", "text_tokens"}
FLOAT_KEYS = {"fps", "epochs"}


def parse_pairs(text: str, what: str) -> dict:
    """'a=1,b=x' -> {'a': 1, 'b': 'x'} with integers and floats converted."""
    pairs = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not value.strip():
            raise PlanInputError(f"{what} '{text}': expected key=value pairs, got '{item}'")
        value = value.strip()
        if key in pairs:
            raise PlanInputError(f"{what} '{text}': {key} given twice")
        try:
            pairs[key] = int(value) if key in INT_KEYS else float(value) if key in FLOAT_KEYS else value
        except ValueError:
            raise PlanInputError(f"{what}: {key}={value} is not a number") from None
    return pairs


def parse_layout(text: Optional[str], num_gpus: int) -> tuple[Optional[Layout], dict]:
    """(full layout, None) when dp is given, else (None, knobs fixed for the search)."""
    if not text:
        return None, {}
    pairs = parse_pairs(text, "--layout")
    if "dp" not in pairs:
        # A partial layout: check what is given, then let the search fill the rest.
        try:
            Layout(**pairs)
        except ValidationError as exc:
            raise PlanInputError(plain_error(exc, "--layout", Layout)) from None
        product = 1
        for key in DEGREES:
            product *= pairs.get(key, 1)
        if num_gpus % product:
            raise PlanInputError(f"--layout '{text}': the given degrees ({product}) do not divide {num_gpus} GPUs")
        return None, pairs
    try:
        layout = Layout(**pairs)
    except ValidationError as exc:
        raise PlanInputError(plain_error(exc, "--layout", Layout)) from None
    if layout.num_gpus != num_gpus:
        raise PlanInputError(f"--layout '{text}': tp*pp*cp*dp = {layout.num_gpus}, but --gpus has {num_gpus}")
    return layout, {}


def build_stage(values: dict, what: str) -> TrainingStage:
    """A TrainingStage from keyword values, with one-line errors."""
    if values.get("steps") is not None:
        values = {**values, "num_clips": None, "epochs": None}
    try:
        stage = TrainingStage(**values)
    except ValidationError as exc:
        raise PlanInputError(plain_error(exc, what, TrainingStage)) from None
    if what != "workload":  # the options themselves were checked as options
        check_stage(stage, f"{what}: ")
    return stage


def build_workload(base: dict, stage_texts: list[str], precompute_text: bool, precompute_latents: bool, workload_file: Optional[Path]) -> Workload:
    """Stages from --stage options (each overriding the single-stage defaults) or a workload file."""
    if workload_file is not None:
        data = read_mapping(workload_file)
        try:
            workload = Workload.model_validate(data)
        except ValidationError as exc:
            raise PlanInputError(plain_error(exc, str(workload_file), Workload)) from None
        check_workload(workload, str(workload_file))
        return workload
    check_stage_count(len(stage_texts), "--stage")
    texts = stage_texts or [""]
    stages = []
    for i, text in enumerate(texts):
        pairs = parse_pairs(text, "--stage")
        if stage_texts and not pairs:
            raise PlanInputError(f"--stage '{text}': empty; expected key=value pairs, e.g. height=240,width=432,steps=20000")
        both = [key for key in ("num_clips", "epochs") if key in pairs]
        if "steps" in pairs and both:
            raise PlanInputError(f"--stage '{text}': steps and {both[0]} cannot be combined: give either num_clips and epochs, or steps")
        values = {**base, **pairs}
        values.setdefault("name", f"stage{i + 1}" if len(texts) > 1 else "main")
        stages.append(build_stage(values, "--stage" if text else "workload"))
    return Workload(stages=tuple(stages), precompute_text=precompute_text, precompute_latents=precompute_latents)


def pinned_knobs(text: Optional[str]) -> dict:
    """Knobs a --layout pins when the cluster size is searched (--gpus KIND[,KIND]): no dp, which fixes the size."""
    pairs = parse_pairs(text or "", "--layout")
    if "dp" in pairs:
        raise PlanInputError("--layout with dp fixes the GPU count; with GPU kinds give a partial layout, e.g. 'tp=2,recompute=full'")
    try:
        Layout(**pairs)
    except ValidationError as exc:
        raise PlanInputError(plain_error(exc, "--layout", Layout)) from None
    return pairs

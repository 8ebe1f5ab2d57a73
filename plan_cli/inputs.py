"""Turning command-line strings into specs; every failure is a one-line PlanInputError in the user's words."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from estimators.catalog.files import read_mapping
from estimators.errors import PlanInputError
from estimators.specs.layout import Layout
from estimators.specs.messages import Spelled, Spelling, plain_words
from estimators.specs.training import Training
from estimators.specs.workload import TrainingStage, Workload

DEGREES = ("tp", "pp", "cp", "dp")
INT_KEYS = {"tp", "pp", "cp", "dp", "zero", "micro_batch", "vpp", "height", "width", "frames", "steps", "num_clips", "global_batch", "text_tokens",
            "recompute_layers", "lora_rank"}
FLOAT_KEYS = {"fps", "epochs"}
SpecType = TypeVar("SpecType", bound=BaseModel)


def build(spec: type[SpecType], values: dict, spelling: Spelling) -> SpecType:
    """``spec(**values)``, or a one-line error naming the field as the user typed it."""
    try:
        return spec(**values)
    except ValidationError as exc:
        raise PlanInputError(plain_words(exc, spelling, model=spec)) from None


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


LAYOUT_SPELLING = Spelling(origin="--layout")


def parse_layout(text: Optional[str], num_gpus: int) -> tuple[Optional[Layout], dict]:
    """(full layout, None) when dp is given, else (None, knobs fixed for the search)."""
    if not text:
        return None, {}
    pairs = parse_pairs(text, "--layout")
    layout = build(Layout, pairs, LAYOUT_SPELLING)
    if "dp" not in pairs:
        # A partial layout: checked above; the search fills the rest.
        product = 1
        for key in DEGREES:
            product *= pairs.get(key, 1)
        if num_gpus % product:
            raise PlanInputError(f"--layout '{text}': the given degrees ({product}) do not divide {num_gpus} GPUs")
        return None, typed_knobs(layout, pairs)
    if layout.num_gpus != num_gpus:
        raise PlanInputError(f"--layout '{text}': tp*pp*cp*dp = {layout.num_gpus}, but --gpus has {num_gpus}")
    return layout, {}


def build_stage(values: dict, spelling: Spelling) -> TrainingStage:
    """A TrainingStage from keyword values (steps replace clips x epochs), with one-line errors."""
    if values.get("steps") is not None:
        values = {**values, "num_clips": None, "epochs": None}
    return build(TrainingStage, values, spelling)


def stage_spelling(options: Mapping[str, Spelled], pairs: dict) -> Spelling:
    """Fields from the stage's own key=value pairs as '--stage: key=value', the others as their options."""
    return Spelling(fields={**options, **{key: Spelled(f"--stage: {key}", "=") for key in pairs}})


def build_workload(base: dict, options: Mapping[str, Spelled], stage_texts: list[str], precompute_text: bool,
                   precompute_latents: bool, workload_file: Optional[Path]) -> Workload:
    """Stages from --stage options (each overriding the single-stage defaults ``base``, whose fields were typed
    as ``options``) or a workload file."""
    if workload_file is not None:
        data = read_mapping(workload_file)
        try:
            return Workload.model_validate(data)
        except ValidationError as exc:
            raise PlanInputError(plain_words(exc, Spelling(origin=str(workload_file)), model=Workload)) from None
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
        stages.append(build_stage(values, stage_spelling(options, pairs)))
    stage_count = Spelling(fields={"stages": Spelled("--stage", separator=None)})
    return build(Workload, dict(stages=tuple(stages), precompute_text=precompute_text, precompute_latents=precompute_latents), stage_count)


def pinned_knobs(text: Optional[str]) -> dict:
    """Knobs a --layout pins when the cluster size is searched (--gpus KIND[,KIND]): no dp, which fixes the size."""
    pairs = parse_pairs(text or "", "--layout")
    if "dp" in pairs:
        raise PlanInputError("--layout with dp fixes the GPU count; with GPU kinds give a partial layout, e.g. 'tp=2,recompute=full'")
    return typed_knobs(build(Layout, pairs, LAYOUT_SPELLING), pairs)


def typed_knobs(layout: Layout, pairs: dict) -> dict:
    """The knobs the user gave, with the values the layout spec read them as (true/false as booleans)."""
    return {key: getattr(layout, key) for key in pairs}


TRAINING_SPELLING = Spelling(origin="--training")


def parse_training(text: Optional[str]) -> Optional[Training]:
    """--training 'method=lora,lora_rank=64,lora_targets=attention,states=bf16,optimizer=adamw-8bit' as a spec (None: not given)."""
    if not text:
        return None
    return build(Training, parse_pairs(text, "--training"), TRAINING_SPELLING)

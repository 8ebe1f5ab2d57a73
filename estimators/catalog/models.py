"""Model presets (data/models), bundled components (data/components) and model files, validated."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from estimators.catalog.files import data_folder, data_origin, read_mapping
from estimators.errors import PlanInputError
from estimators.specs.messages import Spelling, document_problems, plain_words
from estimators.specs.models import GPTSpec, VideoSystemSpec

COMPONENT_KEYS = ("text_encoder", "vae")


def preset_names() -> list[str]:
    """Names of the bundled model presets."""
    return sorted(p.stem for p in (data_folder() / "models").glob("*.yaml"))


def component_names() -> list[str]:
    """Names of the bundled text encoders and VAEs."""
    return sorted(p.stem for p in (data_folder() / "components").glob("*.yaml"))


def _resolve_component(value: Any, where: str, problems: list[str]) -> Any:
    """A bundled component's mapping for its name; anything else is left for validation."""
    if not isinstance(value, str):
        return value
    path = data_folder() / "components" / f"{value}.yaml"
    if not path.exists():
        problems.append(f"{where}: unknown component '{value}' (bundled: {', '.join(component_names())})")
        return {}
    return read_mapping(path, data_origin(path))


def _resolve_components(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Replace 'text_encoder: t5-xxl'-style references (or lists of them) with the bundled component files."""
    resolved = dict(data)
    for key in COMPONENT_KEYS:
        value = resolved.get(key)
        if isinstance(value, list):
            resolved[key] = [_resolve_component(item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
        else:
            resolved[key] = _resolve_component(value, key, problems)
    return resolved


def validate_system(data: dict[str, Any], origin: str) -> VideoSystemSpec:
    """A video system from a mapping; every problem of it in one PlanInputError, one line each
    ('origin: field.path: what is wrong')."""
    problems: list[str] = []
    resolved = _resolve_components(data, problems)
    try:
        system = VideoSystemSpec.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(p for p in document_problems(exc, resolved) if not _is_unresolved(p, problems))
        system = None
    if problems:
        raise PlanInputError("\n".join(f"{origin}: {p}" for p in problems))
    return system


def _is_unresolved(problem: str, problems: list[str]) -> bool:
    """Errors inside a component already reported as unknown repeat that one problem."""
    return any(problem.startswith(p.split(":")[0]) for p in problems)


def load_model(name_or_path: str) -> VideoSystemSpec | GPTSpec:
    """A preset name (``mochi-10b``) or a YAML/JSON file describing a video system or a GPT."""
    path = Path(name_or_path)
    preset = data_folder() / "models" / f"{name_or_path}.yaml"
    if name_or_path in preset_names():
        path = preset
    elif path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise PlanInputError(f"unknown model '{name_or_path}' (presets: {', '.join(preset_names())}; or a .yaml/.json file)")
    elif not path.exists():
        raise PlanInputError(f"model file not found: {name_or_path}")
    origin = data_origin(path) if path == preset else str(path)
    data = read_mapping(path, origin)
    if data.get("family") == "gpt":
        try:
            return GPTSpec.model_validate(data)
        except ValidationError as exc:
            raise PlanInputError(plain_words(exc, Spelling(origin=origin, document=True), data)) from None
    return validate_system(data, origin)

"""The device profile bundled for each GPU (data/profiles/<GPU>.yaml); the spec is specs/profile.py."""
from __future__ import annotations

from functools import lru_cache

from pydantic import ValidationError

from estimators.catalog.files import data_folder, data_origin, read_mapping
from estimators.errors import PlanInputError
from estimators.specs.messages import Spelling, plain_words
from estimators.specs.profile import DeviceProfile


@lru_cache(maxsize=None)
def load_profile(gpu_name: str) -> DeviceProfile:
    """The profile bundled for a GPU (by canonical name)."""
    path = data_folder() / "profiles" / f"{gpu_name}.yaml"
    if not path.exists():
        raise PlanInputError(f"no device profile for {gpu_name} (expected {data_origin(path)})")
    origin = data_origin(path)
    data = read_mapping(path, origin)
    try:
        return DeviceProfile.model_validate(data)
    except ValidationError as exc:
        raise PlanInputError(plain_words(exc, Spelling(origin=origin, document=True), data)) from None

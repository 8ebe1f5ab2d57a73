"""The bundled GPU kinds (data/hardware/*.yaml) by name and alias, and --gpus NAMExCOUNT."""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic import ValidationError

from estimators.catalog.files import DATA_DIR, read_mapping
from estimators.catalog.models import _validation_message
from estimators.errors import PlanInputError
from estimators.specs.hardware import Cluster, GPUSpec


@lru_cache(maxsize=None)
def gpu_catalogue() -> dict[str, GPUSpec]:
    """Every bundled GPU by upper-cased name and alias."""
    catalogue: dict[str, GPUSpec] = {}
    for path in sorted((DATA_DIR / "hardware").glob("*.yaml")):
        try:
            gpu = GPUSpec.model_validate(read_mapping(path))
        except ValidationError as exc:
            raise PlanInputError(_validation_message(exc, str(path))) from None
        for key in (gpu.name, *gpu.aliases):
            catalogue[key.upper()] = gpu
    return catalogue


def load_gpu(name: str) -> GPUSpec:
    """A GPU by name or alias, case-insensitive."""
    gpu = gpu_catalogue().get(name.upper())
    if gpu is None:
        names = sorted({g.name for g in gpu_catalogue().values()})
        raise PlanInputError(f"unknown GPU '{name}' (known: {', '.join(names)})")
    return gpu


_GPUS_PATTERN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)x(?P<count>-?\d+)$")


def parse_cluster(text: str) -> Cluster:
    """Parse ``H100x512`` into a cluster; one clear error for anything else."""
    match = _GPUS_PATTERN.match(text.strip())
    if not match:
        raise PlanInputError(f"--gpus '{text}': expected NAMExCOUNT, e.g. H100x512")
    count = int(match["count"])
    if count <= 0:
        raise PlanInputError(f"--gpus '{text}': the GPU count must be positive")
    return Cluster(gpu=load_gpu(match["name"]), num_gpus=count)

"""The bundled GPU kinds (data/hardware/*.yaml) by name and alias, and the one grammar of ``--gpus``.

``--gpus`` names either one cluster, ``NAMExCOUNT`` (``H100x512``), or GPU kinds whose cluster sizes the
deadline/budget search chooses, ``NAME[,NAME...]`` (``H100,H200,B200``). Names and aliases are matched
without regard to case; the count is bounded by the cluster spec (specs/hardware.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from pydantic import ValidationError

from estimators.catalog.files import data_folder, data_origin, read_mapping
from estimators.errors import PlanInputError
from estimators.specs.hardware import Cluster, GPUSpec
from estimators.specs.messages import Spelled, Spelling, plain_words

_COUNTED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)[xX](?P<count>-?[0-9]+)$")


@lru_cache(maxsize=None)
def gpu_catalogue() -> dict[str, GPUSpec]:
    """Every bundled GPU by upper-cased name and alias."""
    catalogue: dict[str, GPUSpec] = {}
    for path in sorted((data_folder() / "hardware").glob("*.yaml")):
        origin = data_origin(path)
        data = read_mapping(path, origin)
        try:
            gpu = GPUSpec.model_validate(data)
        except ValidationError as exc:
            raise PlanInputError(plain_words(exc, Spelling(origin=origin, document=True), data)) from None
        for key in (gpu.name, *gpu.aliases):
            catalogue[key.upper()] = gpu
    return catalogue


def load_gpu(name: str) -> GPUSpec:
    """A GPU by name or alias, case-insensitive."""
    gpu = gpu_catalogue().get(name.strip().upper())
    if gpu is None:
        names = sorted({g.name for g in gpu_catalogue().values()})
        raise PlanInputError(f"unknown GPU '{name.strip()}' (known: {', '.join(names)})")
    return gpu


@dataclass(frozen=True)
class GpuChoice:
    """What ``--gpus`` names: one cluster, or the kinds the deadline/budget search sizes (never both)."""

    cluster: Optional[Cluster] = None
    kinds: tuple[GPUSpec, ...] = ()

    def one_cluster(self, label: str = "gpus") -> Cluster:
        """The cluster; a one-line error when kinds without counts were given."""
        if self.cluster is None:
            raise PlanInputError(f"{label}: this needs one cluster as NAMExCOUNT, e.g. H100x512")
        return self.cluster


def parse_gpus(text: str, label: str = "gpus") -> GpuChoice:
    """``H100x512`` -> one cluster; ``H100,H200,B200`` -> those kinds (each once); anything else one clear
    error naming ``label`` (how the caller's user typed the option, e.g. '--gpus')."""
    parts = [part.strip() for part in text.split(",")]
    counted = [_COUNTED.match(part) for part in parts]
    if len(parts) == 1 and counted[0]:
        return GpuChoice(cluster=_cluster(load_gpu(counted[0]["name"]), counted[0]["count"], f"{label} '{text}'"))
    if not all(parts) or any(counted):
        raise PlanInputError(f"{label} '{text}': expected one cluster as NAMExCOUNT (e.g. H100x512) "
                             "or GPU kinds without counts (e.g. H100,H200,B200)")
    kinds = [load_gpu(part) for part in parts]
    return GpuChoice(kinds=tuple({gpu.name: gpu for gpu in kinds}.values()))


def parse_cluster(text: str, label: str = "gpus") -> Cluster:
    """``H100x512`` as a cluster (parse_gpus, requiring a count)."""
    return parse_gpus(text, label).one_cluster(label)


def _cluster(gpu: GPUSpec, count: str, typed_as: str) -> Cluster:
    try:
        return Cluster(gpu=gpu, num_gpus=int(count))
    except ValidationError as exc:
        raise PlanInputError(plain_words(exc, Spelling(fields={"num_gpus": Spelled(typed_as, separator=None)}))) from None

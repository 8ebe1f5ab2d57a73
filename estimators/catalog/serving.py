"""Serving data (data/serving/*.yaml) turned into specs: each preset's inference defaults, each GPU kind's
host link, 3D-convolution efficiency and host cores, container encoding, reliability."""
from __future__ import annotations

from functools import lru_cache

from pydantic import ValidationError

from estimators.catalog.files import DATA_DIR, read_mapping
from estimators.errors import PlanInputError
from estimators.specs.hardware import GPUSpec
from estimators.specs.messages import Spelling, plain_words
from estimators.specs.models import VideoSystemSpec
from estimators.specs.serving import (
    ContainerEncoding,
    HostLink,
    InferenceDefaults,
    Reliability,
    ServingClip,
    ServingDevice,
)

SERVING_DIR = DATA_DIR / "serving"
GENERIC_STEPS = 50
GENERIC_KERNEL = "flash-attention-2"
DEFAULT_ENTRY = "default"


@lru_cache(maxsize=None)
def _data(name: str) -> dict:
    return read_mapping(SERVING_DIR / f"{name}.yaml")


def _validated(spec_type, data: dict, where: str):
    try:
        return spec_type.model_validate(data)
    except ValidationError as exc:
        raise PlanInputError(plain_words(exc, Spelling(origin=where, document=True), data)) from None


def inference_defaults(system: VideoSystemSpec) -> InferenceDefaults:
    """The preset's official inference settings; for a model file without any, generic ones that say so."""
    entry = _data("models").get(system.name)
    if entry is not None:
        return _validated(InferenceDefaults, entry, f"{SERVING_DIR / 'models.yaml'}: {system.name}")
    clip = system.default_clip
    return InferenceDefaults(
        steps=GENERIC_STEPS, guidance="sequential-2",
        clip=ServingClip(frames=clip.frames, height=clip.height, width=clip.width, fps=clip.fps, text_tokens=clip.text_tokens),
        vae_precision="bf16", vae_tiling=None, attention_kernel=GENERIC_KERNEL,
        source=f"no official inference settings for '{system.name}' in data/serving/models.yaml: {GENERIC_STEPS} steps, "
               "guidance as two forwards a step, the model's default clip, an untiled bf16 VAE decode",
    )


def serving_device(gpu: GPUSpec) -> ServingDevice:
    """The serving figures of a bundled GPU kind (the defaults of the data for a kind it does not list)."""
    data = _data("devices")
    link = data["host_links"].get(gpu.name)
    conv = data["conv3d"].get(gpu.name, data["conv3d"][DEFAULT_ENTRY])
    hosts = data["hosts"]
    host = hosts.get(gpu.name) or min(hosts.values(), key=lambda h: h["cores_per_gpu"])
    return ServingDevice(
        name=gpu.name, host_link=None if link is None else _validated(HostLink, link, f"devices.yaml: host_links.{gpu.name}"),
        conv_efficiency=conv["efficiency"], conv_source=conv["source"],
        host_cores_per_gpu=host["cores_per_gpu"], host_source=host["source"],
    )


def tf32_peak_per_bf16_peak() -> float:
    """TF32 dense peak over BF16 dense peak (what an fp32 VAE's convolutions run at)."""
    return float(_data("devices")["tf32_peak_per_bf16_peak"])


def container_encoding() -> ContainerEncoding:
    return _validated(ContainerEncoding, _data("devices")["container_encoding"], "devices.yaml: container_encoding")


def reliability() -> Reliability:
    return _validated(Reliability, _data("devices")["reliability"], "devices.yaml: reliability")

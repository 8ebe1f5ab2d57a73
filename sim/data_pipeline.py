"""Storage and read bandwidth of the data pipeline, and whether it starves the GPUs.

Bytes a clip: raw video at a stated bitrate; cached latents (T x H x W x C at the cache precision);
cached text embeddings (valid tokens x T5 width). Checkpoints: bf16 weights + fp32 master, m, v
(14 bytes a trained parameter; gradients are not saved) times the copies kept.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.geometry import ClipGeometry
from estimators.documents.simulation import DataPipeline, StorageBytes
from estimators.planning.failures import CHECKPOINT_BYTES_PER_PARAM

BITS_PER_BYTE = 8
CACHE_BYTES_PER_VALUE = 2  # latents and embeddings cached in bf16


@dataclass(frozen=True)
class DataInputs:
    """What sizes the data pipeline; bandwidths in bytes/s."""

    num_clips: int
    clip_seconds: float
    raw_bitrate_bits_per_s: float  # compressed source video
    geometry: ClipGeometry
    latent_channels: int
    text_tokens: int
    text_width: int
    trained_params: int
    checkpoints_kept: int
    precompute_text: bool
    precompute_latents: bool
    samples_per_s: float  # training throughput of the compute (before any wait on storage)
    global_batch: int
    num_gpus: int
    storage_read_bytes_per_s: float  # aggregate read bandwidth of the shared storage


@dataclass(frozen=True)
class ClipBytes:
    """Bytes of one clip as raw video, cached latents and cached text embeddings."""

    raw: float
    latents: float
    text: float


def clip_bytes(d: DataInputs) -> ClipBytes:
    """Bytes of one clip as raw video, cached latents and cached text embeddings."""
    return ClipBytes(raw=d.raw_bitrate_bits_per_s * d.clip_seconds / BITS_PER_BYTE,
                     latents=d.geometry.latent_elements * d.latent_channels * CACHE_BYTES_PER_VALUE,
                     text=d.text_tokens * d.text_width * CACHE_BYTES_PER_VALUE)


def storage_bytes(d: DataInputs) -> StorageBytes:
    """Bytes stored for the dataset, the caches and the checkpoints."""
    clip = clip_bytes(d)
    return StorageBytes(
        raw_clips=d.num_clips * clip.raw,
        latents=d.num_clips * clip.latents if d.precompute_latents else 0.0,
        text_embeddings=d.num_clips * clip.text if d.precompute_text else 0.0,
        checkpoints=d.checkpoints_kept * d.trained_params * CHECKPOINT_BYTES_PER_PARAM,
    )


def read_demand(d: DataInputs) -> DataPipeline:
    """Bytes/s the training loop reads, in all and per GPU, and whether storage keeps up."""
    clip = clip_bytes(d)
    per_clip = (clip.latents if d.precompute_latents else clip.raw) + (clip.text if d.precompute_text else 0.0)
    total = per_clip * d.samples_per_s
    step_s = d.global_batch / d.samples_per_s
    return DataPipeline(bytes_per_sample=per_clip, read_bytes_per_s=total, read_bytes_per_s_per_gpu=total / d.num_gpus,
                        storage_read_bytes_per_s=d.storage_read_bytes_per_s, data_bound=total > d.storage_read_bytes_per_s,
                        read_s_per_step=per_clip * d.global_batch / d.storage_read_bytes_per_s, compute_s_per_step=step_s)

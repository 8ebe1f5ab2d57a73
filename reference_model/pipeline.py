"""The reference system end to end: train into a run folder, generate video files, evaluate (used by the CLI)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from estimators.catalog.files import read_mapping
from estimators.documents.reference import ReferenceEvaluation
from reference_model.evaluate import held_out_specs, score
from reference_model.prompts import GenerateRequest
from reference_model.sample import generate
from reference_model.system import (
    CONFIG_DIR,
    ReferenceConfig,
    ReferenceSystem,
    load_config,
)
from reference_model.train import Progress, load_trained, run_training
from reference_model.video_io import format_of, write_video

CONFIG_COPY = "config.yaml"
BASELINE_SEED_OFFSET = 1  # the untrained DiT is initialised with another seed than the trained one's start


def train(config_name: str, out: Path, progress: Progress = None, stop_after: Optional[int] = None) -> dict:
    """Train (or resume) a run; the config is copied into the run folder so later commands match it."""
    config = load_config(config_name)
    out.mkdir(parents=True, exist_ok=True)
    copy = out / CONFIG_COPY
    if copy.exists() and load_config(str(copy)) != config:
        raise ValueError(f"{out} holds a run of another config; use another --out or delete it")
    source = Path(config_name) if Path(config_name).suffix else CONFIG_DIR / f"{config_name}.yaml"
    shutil.copyfile(source, copy)
    return run_training(ReferenceSystem.build(config), out, progress, stop_after)


def trained_system(out: Path) -> ReferenceSystem:
    """The system of a run folder, with its trained weights."""
    if not (out / "dit.pt").exists():
        raise FileNotFoundError(f"no trained reference model in {out}: run `plan reference train` first")
    return load_trained(ReferenceSystem.build(load_config(str(out / CONFIG_COPY))), out)


def clip_request(request: GenerateRequest, config: ReferenceConfig) -> dict:
    """The request with the trained clip's defaults, its frames held to the causal VAE's rule."""
    frames = config.clip.frames if request.frames is None else request.frames
    t = config.vae.temporal_compression
    if (frames - 1) % t:
        below = (frames - 1) // t * t + 1
        raise ValueError(f"prompt JSON: frames={frames}: the causal VAE needs {t}k+1 frames (e.g. {below} or {below + t})")
    fps = config.clip.fps if request.fps is None else request.fps
    return {"prompt": request.prompt, "frames": frames, "fps": float(fps), "seed": request.seed or 0}


def generate_file(out: Path, request: GenerateRequest, path: Path) -> dict:
    """Generate one clip for a checked request and write it; returns what was written (the frame rate as stored)."""
    system = trained_system(out)
    clip = clip_request(request, system.config)
    fmt = format_of(path, request.format)
    sampling = system.config.sampling
    video = generate(system, [clip["prompt"]], clip["frames"], clip["seed"], sampling.steps, sampling.guidance)[0]
    rate = write_video(video, path, clip["fps"], fmt)
    return {"path": str(path), "frames": int(video.shape[0]), "height": int(video.shape[1]), "width": int(video.shape[2]),
            "fps": float(rate), "format": fmt}


def evaluate_run(out: Path) -> ReferenceEvaluation:
    """Scores of the run's latest checkpoint and of an untrained DiT (same VAE) on held-out prompts."""
    system = trained_system(out)
    cfg = system.config
    specs = [spec for _, spec in held_out_specs(cfg.training.dataset_clips, cfg.evaluation.prompts, cfg.evaluation.seed)]
    captions = [s.caption for s in specs]

    def scores(candidate: ReferenceSystem) -> dict:
        videos = generate(candidate, captions, cfg.clip.frames, cfg.evaluation.seed, cfg.sampling.steps, cfg.sampling.guidance)
        return score(videos, specs)

    trained = scores(system)
    torch.manual_seed(cfg.training.seed + BASELINE_SEED_OFFSET)
    baseline_system = ReferenceSystem.build(cfg)
    baseline_system.vae.load_state_dict(system.vae.state_dict())
    baseline_system.vae.eval()
    baseline = scores(baseline_system)
    step = torch.load(out / "dit.pt")["step"]
    return ReferenceEvaluation(
        adherence=trained["adherence"], baseline_adherence=baseline["adherence"],
        temporal_consistency=trained["temporal_consistency"], baseline_temporal_consistency=baseline["temporal_consistency"],
        colour=trained["colour"], direction=trained["direction"], baseline_colour=baseline["colour"], baseline_direction=baseline["direction"],
        prompts=len(specs), checkpoint_step=int(step), config=read_mapping(out / CONFIG_COPY)["training"],
    )


def sample_strip(out: Path, prompts: list[str], path: Path) -> None:
    """A PNG of frames (rows: prompts; columns: every other frame) for the README."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    system = trained_system(out)
    cfg = system.config
    videos = generate(system, prompts, cfg.clip.frames, 0, cfg.sampling.steps, cfg.sampling.guidance)
    columns = list(range(0, videos.shape[1], 3))
    fig, axes = plt.subplots(len(prompts), len(columns), figsize=(1.1 * len(columns), 1.3 * len(prompts)))
    for row, (video, prompt) in enumerate(zip(videos, prompts)):
        for col, t in enumerate(columns):
            ax = np.atleast_2d(axes)[row, col]
            ax.imshow(video[t], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(prompt.replace(" on a", "\non a"), fontsize=5, rotation=0, ha="right", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""Automatic scores of generated clips on held-out prompts, against an untrained model.

Adherence: the shape's colour and direction of motion read back from the frames agree with the prompt.
Every pixel is classified to the nearest colour of the generator's palette (shape colours, backgrounds
and their stripes); the shape colour with the most pixels is the clip's colour (white shapes on
backgrounds too), and the path of that colour's centroid from the first to the last frame gives the
direction. Temporal consistency: mean correlation of consecutive frames (1 = smooth, 0 = unrelated).
"""
from __future__ import annotations

import numpy as np

from reference_model.data import BACKGROUNDS, COLOURS, DIRECTIONS, STRIPE_GAIN, STRIPE_OFFSET, ClipSpec, sample_spec

MIN_SHAPE_PIXELS = 3  # a frame with fewer pixels of the colour has no centroid
SHAPE_NAMES = list(COLOURS)
PALETTE = np.array(
    list(COLOURS.values())
    + list(BACKGROUNDS.values())
    + [np.clip(np.array(c) * STRIPE_GAIN + STRIPE_OFFSET, 0, 1) for c in BACKGROUNDS.values()],
    dtype=np.float32,
)  # (colours, 3): shape colours first


def held_out_specs(training_clips: int, count: int, first_seed: int) -> list[tuple[int, ClipSpec]]:
    """Prompts whose attribute combination never occurs in the training seeds 0..training_clips-1."""
    seen = {sample_spec(np.random.default_rng(s)) for s in range(training_clips)}
    out, seed = [], first_seed
    while len(out) < count:
        spec = sample_spec(np.random.default_rng(seed))
        if spec not in seen:
            out.append((seed, spec))
        seed += 1
    return out


def classify(video: np.ndarray) -> np.ndarray:
    """(T, H, W) index into PALETTE of each pixel's nearest colour; video (T, H, W, 3) uint8."""
    frames = video.astype(np.float32)[..., None, :] / 255
    return np.argmin(np.linalg.norm(frames - PALETTE, axis=-1), axis=-1)


def read_colour(classes: np.ndarray) -> str | None:
    """The shape colour covering the most pixels over the clip."""
    counts = np.bincount(classes.ravel(), minlength=len(PALETTE))[: len(SHAPE_NAMES)]
    return SHAPE_NAMES[int(np.argmax(counts))] if counts.max() >= MIN_SHAPE_PIXELS else None


def read_direction(mask: np.ndarray) -> str | None:
    """Direction of the mask's centroid from the first to the last frame where it is present."""
    centres = [np.argwhere(m).mean(axis=0) for m in mask if m.sum() >= MIN_SHAPE_PIXELS]  # (row, col)
    if len(centres) < 2:
        return None
    drow, dcol = centres[-1] - centres[0]
    step = (int(np.sign(dcol)), 0) if abs(dcol) >= abs(drow) else (0, int(np.sign(drow)))
    return next((name for name, vector in DIRECTIONS.items() if vector == step), None)


def temporal_consistency(video: np.ndarray) -> float:
    """Mean Pearson correlation between consecutive frames."""
    flat = video.reshape(len(video), -1).astype(np.float64)
    scores = [np.corrcoef(a, b)[0, 1] for a, b in zip(flat[:-1], flat[1:]) if a.std() > 0 and b.std() > 0]
    return float(np.mean(scores)) if scores else 0.0


def score(videos: np.ndarray, specs: list[ClipSpec]) -> dict:
    """Adherence (mean of colour and direction agreement), its parts, and temporal consistency."""
    colour_hits, direction_hits, consistency = [], [], []
    for video, spec in zip(videos, specs):
        classes = classify(video)
        colour = read_colour(classes)
        colour_hits.append(colour == spec.colour)
        shape_mask = classes == SHAPE_NAMES.index(colour) if colour else np.zeros(classes.shape, dtype=bool)
        direction_hits.append(read_direction(shape_mask) == spec.direction)
        consistency.append(temporal_consistency(video))
    colour, direction = float(np.mean(colour_hits)), float(np.mean(direction_hits))
    return {"adherence": (colour + direction) / 2, "colour": colour, "direction": direction, "temporal_consistency": float(np.mean(consistency))}

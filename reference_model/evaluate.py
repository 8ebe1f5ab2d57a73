"""Automatic scores of generated clips on held-out prompts, against an untrained model.

Adherence: the shape's colour and direction of motion read back from the frames agree with the prompt.
The background is each frame's median colour; the foreground is the pixels far from it; the median
colour of its most distinct half names the nearest palette colour (blurred edges mix with the
background), and its centroid's path gives the direction.
Temporal consistency: mean correlation of consecutive frames (1 = smooth, 0 = unrelated frames).
"""
from __future__ import annotations

import numpy as np

from reference_model.data import COLOURS, DIRECTIONS, ClipSpec, sample_spec

FOREGROUND_DISTANCE = 0.25  # RGB distance (0..sqrt 3) from the background that counts as the shape
MIN_FOREGROUND_PIXELS = 3


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


def distance_from_background(video: np.ndarray) -> np.ndarray:
    """(T, H, W) RGB distance of each pixel from its frame's median colour; video (T, H, W, 3) uint8."""
    frames = video.astype(np.float32) / 255
    background = np.median(frames.reshape(len(frames), -1, 3), axis=1)[:, None, None, :]
    return np.linalg.norm(frames - background, axis=-1)


def read_colour(video: np.ndarray, mask: np.ndarray, distance: np.ndarray) -> str | None:
    """Nearest palette colour to the median of the foreground pixels farthest from the background."""
    if mask.sum() < MIN_FOREGROUND_PIXELS:
        return None
    pixels, far = (video.astype(np.float32) / 255)[mask], distance[mask]
    core = np.median(pixels[far >= np.median(far)], axis=0)
    return min(COLOURS, key=lambda name: np.linalg.norm(core - np.array(COLOURS[name])))


def read_direction(mask: np.ndarray) -> str | None:
    """Direction of the foreground centroid from the first to the last frame with a foreground."""
    centres = [np.argwhere(m).mean(axis=0) for m in mask if m.sum() >= MIN_FOREGROUND_PIXELS]  # (row, col)
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
        distance = distance_from_background(video)
        mask = distance > FOREGROUND_DISTANCE
        colour_hits.append(read_colour(video, mask, distance) == spec.colour)
        direction_hits.append(read_direction(mask) == spec.direction)
        consistency.append(temporal_consistency(video))
    colour, direction = float(np.mean(colour_hits)), float(np.mean(direction_hits))
    return {"adherence": (colour + direction) / 2, "colour": colour, "direction": direction, "temporal_consistency": float(np.mean(consistency))}

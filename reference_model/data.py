"""Procedurally generated captioned clips: a coloured shape moving over a background, deterministic by seed.

A clip's attributes (shape, colour, size, direction, speed, background, camera pan, style) are drawn
from a seed; the caption says them in words and the frames show them. No download, no files.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.25, 0.95), "yellow": (0.95, 0.85, 0.1), "white": (0.95, 0.95, 0.95)}
BACKGROUNDS = {"dark": (0.08, 0.08, 0.1), "grey": (0.45, 0.45, 0.45), "teal": (0.05, 0.35, 0.35)}
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SHAPES = ("circle", "square")
SIZES = {"small": 0.16, "large": 0.28}  # radius as a share of the frame side
SPEEDS = {"slowly": 0.35, "quickly": 0.7}  # distance travelled over the clip, share of the side
PANS = ("still", "panning")
STYLES = ("flat", "striped")
STRIPE_GAIN, STRIPE_OFFSET, STRIPE_PERIOD = 1.6, 0.05, 4  # stripes: brighter background, 4-pixel bands


@dataclass(frozen=True)
class ClipSpec:
    shape: str
    colour: str
    size: str
    direction: str
    speed: str
    background: str
    pan: str
    style: str

    @property
    def caption(self) -> str:
        camera = "the camera is still" if self.pan == "still" else "the camera pans"
        return f"a {self.size} {self.colour} {self.shape} moves {self.direction} {self.speed} on a {self.background} {self.style} background {camera}"


def sample_spec(rng: np.random.Generator) -> ClipSpec:
    """Uniform draw of every attribute."""
    pick = lambda options: list(options)[rng.integers(len(options))]  # noqa: E731
    return ClipSpec(pick(SHAPES), pick(COLOURS), pick(SIZES), pick(DIRECTIONS), pick(SPEEDS), pick(BACKGROUNDS), pick(PANS), pick(STYLES))


def render(spec: ClipSpec, frames: int, height: int, width: int) -> np.ndarray:
    """Frames as float32 (T, H, W, 3) in [0, 1]: the shape crosses the frame centre along its direction."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = DIRECTIONS[spec.direction]
    travel = SPEEDS[spec.speed] * min(height, width)
    radius = SIZES[spec.size] * min(height, width)
    out = np.empty((frames, height, width, 3), dtype=np.float32)
    for t in range(frames):
        progress = t / max(frames - 1, 1) - 0.5
        cx, cy = width / 2 + dx * travel * progress, height / 2 + dy * travel * progress
        shift = 0.5 * width * progress if spec.pan == "panning" else 0.0
        background = np.array(BACKGROUNDS[spec.background], dtype=np.float32)
        frame = np.broadcast_to(background, (height, width, 3)).copy()
        if spec.style == "striped":
            stripes = (((xs + shift) // STRIPE_PERIOD) % 2 == 0)[..., None]
            frame = np.where(stripes, frame * STRIPE_GAIN + STRIPE_OFFSET, frame)
        if spec.shape == "circle":
            inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2
        else:
            inside = (np.abs(xs - cx) <= radius) & (np.abs(ys - cy) <= radius)
        frame[inside] = COLOURS[spec.colour]
        out[t] = np.clip(frame, 0, 1)
    return out


def clip_for_seed(seed: int, frames: int, height: int, width: int) -> tuple[ClipSpec, np.ndarray]:
    """The clip of a seed: its attributes and frames."""
    spec = sample_spec(np.random.default_rng(seed))
    return spec, render(spec, frames, height, width)

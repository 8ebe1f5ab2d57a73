"""What `plan reference generate` is asked for: plain text, or JSON {"prompt", "frames", "fps", "seed", "format"}.

Checked before torch is loaded (this module imports no torch): JSON through the one reader
(estimators/catalog/files.py), then a spec whose types are strict (frames as "25" or a seed of 1e400 is
refused, not converted) and whose numbers are bounded. The VAE's own frame rule (6k+1 for the reference
VAE) is checked once the trained system's config is read (pipeline.generate_file).
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from estimators.catalog.files import parse_text
from estimators.specs.base import Spec
from estimators.specs.bounds import Bound

VIDEO_FORMATS = ("mp4", "webm", "avi")
# 241 frames (40 latent frames) is 12x the trained clip and samples in seconds on a CPU; longer clips add time
# for frames the model never saw in training.
MAX_FRAMES = 241
MAX_FPS = 240.0  # high-speed capture; a video player shows no more
MAX_PROMPT_CHARS = 2_000
GENERATION_BOUND = "a bound of the reference model that keeps generation within seconds"


class GenerateRequest(Spec):
    """One clip to generate; unset fields take the trained config's clip (frames, fps), seed 0, the file's format."""

    prompt: Annotated[StrictStr, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    frames: Optional[Annotated[StrictInt, Bound(1, MAX_FRAMES, why=GENERATION_BOUND)]] = None
    fps: Optional[Annotated[StrictFloat | StrictInt, Bound(0, MAX_FPS, above=True, why="faster than any display")]] = None
    seed: Optional[Annotated[StrictInt, Bound(0, 2**32 - 1, why="a 32-bit seed")]] = None
    format: Optional[Literal["mp4", "webm", "avi"]] = None


def parse_request(text: str) -> dict:
    """The request's fields from the command-line text: JSON when it starts with '{', else the prompt itself."""
    if text.strip().startswith("{"):
        return parse_text(text, "prompt JSON", as_json=True)  # an object: the text starts with '{'
    return {"prompt": text}

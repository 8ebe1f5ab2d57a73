"""Writing clips as MP4 (H.264), WebM (VP8) or AVI (MPEG-4 Part 2) through PyAV (ffmpeg's libraries)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from estimators.documents.outputs import output_file

CODECS = {"mp4": ("libx264", "yuv420p"), "webm": ("libvpx", "yuv420p"), "avi": ("mpeg4", "yuv420p")}
# A frame rate is stored as a fraction: 1001 covers the NTSC rates (30000/1001) exactly.
MAX_RATE_DENOMINATOR = 1001


def format_of(path: Path, requested: str | None = None) -> str:
    """The container from an explicit format or the file's extension."""
    fmt = (requested or Path(path).suffix.lstrip(".")).lower()
    if fmt not in CODECS:
        raise ValueError(f"unsupported video format '{fmt}' (use .mp4, .webm or .avi)")
    return fmt


def stored_rate(fps: float) -> Fraction:
    """The frame rate a file stores for ``fps`` (12.5 stays 25/2, not 12)."""
    return Fraction(fps).limit_denominator(MAX_RATE_DENOMINATOR)


def write_video(frames: np.ndarray, path: Path, fps: float, fmt: str | None = None) -> Fraction:
    """frames: (T, H, W, 3) uint8. Written through estimators.outputs.output_file (a temporary file in
    the target's folder renamed onto the target, with the umask's mode), so no half-written clip is left.
    Returns the frame rate stored."""
    fmt = format_of(Path(path), fmt)
    codec, pix_fmt = CODECS[fmt]
    rate = stored_rate(fps)
    with output_file(Path(path), "video") as tmp:
        with av.open(str(tmp), mode="w", format=fmt) as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
            if codec == "mpeg4":
                stream.bit_rate = 2_000_000
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            container.mux(stream.encode())
    return rate


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 frames and the stream's frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)

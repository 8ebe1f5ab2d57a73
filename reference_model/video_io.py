"""Writing clips as MP4 (H.264), WebM (VP8) or AVI (MPEG-4 Part 2) through PyAV (ffmpeg's libraries)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import av
import numpy as np

CODECS = {"mp4": ("libx264", "yuv420p"), "webm": ("libvpx", "yuv420p"), "avi": ("mpeg4", "yuv420p")}


def format_of(path: Path, requested: str | None = None) -> str:
    """The container from an explicit format or the file's extension."""
    fmt = (requested or Path(path).suffix.lstrip(".")).lower()
    if fmt not in CODECS:
        raise ValueError(f"unsupported video format '{fmt}' (use .mp4, .webm or .avi)")
    return fmt


def write_video(frames: np.ndarray, path: Path, fps: float, fmt: str | None = None) -> None:
    """frames: (T, H, W, 3) uint8. Written to a temporary file, then renamed."""
    path = Path(path)
    fmt = format_of(path, fmt)
    codec, pix_fmt = CODECS[fmt]
    handle, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=f".{fmt}")
    os.close(handle)
    try:
        with av.open(tmp, mode="w", format=fmt) as container:
            stream = container.add_stream(codec, rate=int(round(fps)))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
            if codec == "mpeg4":
                stream.bit_rate = 2_000_000
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            container.mux(stream.encode())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the clip from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 frames and the stream's frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)

"""Measure how fast one host core encodes decoded frames into an MP4 (libx264 through PyAV, the encoder
reference_model/video_io.py uses), the figures estimators/data/serving/devices.yaml carries as
``container_encoding.pixel_frames_per_s_per_core`` and ``per_clip_s`` (a one-frame 16x16 clip: the
container's and the encoder's fixed cost).

The frames are a smooth moving gradient with a moving square (compressible like generated video, not
like noise), 1280x720, encoded with one encoder thread; the median of three runs is printed.

    python3 benchmarks/container_encode.py
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FRAMES, FPS, RUNS = 1280, 720, 33, 16, 3


def frames() -> np.ndarray:
    """(FRAMES, HEIGHT, WIDTH, 3) uint8: a gradient drifting right with a square moving across it."""
    x = np.linspace(0, 255, WIDTH, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
    out = np.empty((FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for t in range(FRAMES):
        out[t, ..., 0] = (x + 4 * t) % 256
        out[t, ..., 1] = y
        out[t, ..., 2] = (x + y) / 2
        left = 40 + 20 * t
        out[t, 200:360, left:left + 160] = (250, 40, 40)
    return out


def encode_seconds(video: np.ndarray, path: Path) -> float:
    """Seconds to encode ``video`` as H.264 in an MP4 with one encoder thread."""
    start = time.perf_counter()
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return time.perf_counter() - start


def main() -> None:
    video = frames()
    tiny = video[:1, :16, :16]
    with tempfile.TemporaryDirectory() as tmp:
        seconds = statistics.median(encode_seconds(video, Path(tmp) / "clip.mp4") for _ in range(RUNS))
        fixed = statistics.median(encode_seconds(tiny, Path(tmp) / "tiny.mp4") for _ in range(RUNS * 3))
    rate = WIDTH * HEIGHT * FRAMES / (seconds - fixed)
    print(f"libx264 (PyAV {av.__version__}), one thread: {FRAMES} frames of {WIDTH}x{HEIGHT} in {seconds:.2f} s, a one-frame "
          f"16x16 clip in {fixed * 1e3:.1f} ms (medians): {rate:.3e} pixel-frames/s per core, {fixed * 1e3:.1f} ms a clip")


if __name__ == "__main__":
    main()

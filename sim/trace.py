"""Pictures and traces of a simulated step: a Chrome/Perfetto trace (JSON) and a timeline (PNG)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from estimators.documents.outputs import output_file, write_bytes
from sim.step_sim import Event

MICROSECONDS = 1e6


def chrome_trace(events: list[Event]) -> dict:
    """Trace Event Format: one process per pipeline stage, one thread per stream, times in microseconds."""
    threads = {"compute": 1, "comm": 2}
    trace = [
        {"name": e.name, "ph": "X", "ts": e.start * MICROSECONDS, "dur": (e.end - e.start) * MICROSECONDS,
         "pid": e.stage, "tid": threads[e.stream], "cat": e.stream}
        for e in events
    ]
    for stage in sorted({e.stage for e in events}):
        trace.append({"name": "process_name", "ph": "M", "pid": stage, "args": {"name": f"pipeline stage {stage}"}})
        for stream, tid in threads.items():
            trace.append({"name": "thread_name", "ph": "M", "pid": stage, "tid": tid, "args": {"name": stream}})
    return {"traceEvents": trace, "displayTimeUnit": "ms"}


def write_trace(events: list[Event], path: Path) -> None:
    write_bytes(path, json.dumps(chrome_trace(events)).encode(), "trace")


def write_timeline_png(events: list[Event], path: Path, title: str) -> None:
    """Gantt chart: a row per stage and stream; forwards blue, backwards orange, communication grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = sorted({e.stage for e in events})
    fig, ax = plt.subplots(figsize=(12, 1.0 + 0.6 * len(stages)))
    colours = {"F": "tab:blue", "B": "tab:orange"}
    bars: dict[tuple[int, str], list] = defaultdict(list)  # one broken_barh call per row and colour: fast for many bars
    for e in events:
        row = e.stage * 2 + (1 if e.stream == "comm" else 0)
        colour = "tab:grey" if e.stream == "comm" else colours[e.name[0]]
        bars[row, colour].append((e.start, e.end - e.start))
    for (row, colour), spans in bars.items():
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=colour, edgecolor="white", linewidth=0.3)
    ax.set_yticks([s * 2 + k for s in stages for k in (0, 1)], [f"stage {s} {n}" for s in stages for n in ("compute", "comm")])
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(title)
    fig.tight_layout()
    with output_file(path, "timeline") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)

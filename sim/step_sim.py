"""Discrete-event simulation of one training step on a pipeline of stages.

Each stage has a compute stream and a communication stream that run concurrently (no interference
assumed: this is where the simulation can differ from the analytic model's stack overlap properties).
Compute ops run in the schedule's order; an op starts when its stage is free and its input has arrived
(the previous virtual stage's forward, or the next one's backward, plus a point-to-point send).
Tensor/context-parallel collectives are inside the op durations (in line with compute). Data-parallel
traffic runs on the communication stream: gradient buckets are released as the last micro-batch's
backward of each chunk progresses; under ZeRO-3 every op waits for its weight all-gather (prefetched
while the previous op runs) and every backward is followed by a gradient reduce-scatter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sim.schedules import Op, stage_ops

GRADIENT_BUCKETS_PER_CHUNK = 4  # gradient buckets released while a chunk's last backward runs


@dataclass(frozen=True)
class StepInputs:
    """Durations of one stage's work, in seconds (uniform stages)."""

    stages: int
    micro_batches: int
    forward_s: float  # one micro-batch through a stage's layers, forward (in-line comm included)
    backward_s: float  # the same, backward (and recomputed forward)
    p2p_s: float = 0.0  # one activation or gradient send between stages
    virtual_stages: int = 1
    dp_step_s: float = 0.0  # the step's gradient exchange (ZeRO 0-2), all chunks of a stage
    zero3_gather_s: float = 0.0  # one micro-batch's weight all-gather for a stage (ZeRO-3)
    zero3_scatter_s: float = 0.0  # one micro-batch's gradient reduce-scatter for a stage (ZeRO-3)
    optimizer_s: float = 0.0


@dataclass(frozen=True)
class Event:
    """One interval on a stream, for traces and pictures."""

    stage: int
    stream: str  # "compute" or "comm"
    name: str
    start: float
    end: float


@dataclass
class StepResult:
    """What one simulated step shows."""

    step_time_s: float
    bubble_fraction: float  # compute idle for pipeline dependencies, share of the step
    exposed_comm_fraction: float  # compute idle waiting for communication, share of the step
    events: list[Event] = field(default_factory=list)


def _dependency(op: Op, stage: int, v: int, p: int) -> tuple[str, int, int] | None:
    """(kind, stage, chunk) whose completion feeds this op, or None for the very first forward."""
    if op.kind == "F":
        if stage > 0:
            return ("F", stage - 1, op.chunk)
        return ("F", p - 1, op.chunk - 1) if op.chunk > 0 else None
    if stage < p - 1:
        return ("B", stage + 1, op.chunk)
    return ("B", 0, op.chunk + 1) if op.chunk < v - 1 else ("F", stage, op.chunk)


class _Stage:
    """Clocks of one stage's two streams."""

    def __init__(self, ops: list[Op]):
        self.ops, self.next = ops, 0
        self.compute = self.comm = self.weights_ready = 0.0
        self.comm_wait = 0.0


def simulate_step(inp: StepInputs, schedule: str) -> StepResult:
    """Run the schedule; returns step time, bubble and exposed-communication shares, and the events."""
    p, m = inp.stages, inp.micro_batches
    v = inp.virtual_stages if schedule == "interleaved" else 1
    durations = {"F": inp.forward_s / v, "B": inp.backward_s / v}
    stages = [_Stage(stage_ops(schedule, s, p, m, v)) for s in range(p)]
    done: dict[tuple, float] = {}
    events: list[Event] = []
    while any(st.next < len(st.ops) for st in stages):
        progressed = False
        for s, st in enumerate(stages):
            if st.next == len(st.ops):
                continue
            op = st.ops[st.next]
            dep = _dependency(op, s, v, p)
            key = None if dep is None else (dep[0], op.mb, dep[1], dep[2])
            if key is not None and key not in done:
                continue
            arrival = 0.0 if key is None else done[key] + (inp.p2p_s if dep[1] != s else 0.0)
            start = max(st.compute, arrival, st.weights_ready)
            st.comm_wait += max(st.weights_ready - max(st.compute, arrival), 0.0)
            end = start + durations[op.kind]
            events.append(Event(s, "compute", f"{op.kind}{op.mb}" + (f".{op.chunk}" if v > 1 else ""), start, end))
            done[(op.kind, op.mb, s, op.chunk)] = end
            st.compute, st.next, progressed = end, st.next + 1, True
            _queue_data_parallel(inp, st, s, op, start, end, m, v, events)
        if not progressed:
            raise RuntimeError("pipeline schedule deadlocked")
    return _summarise(inp, stages, events, m)


def _queue_data_parallel(inp: StepInputs, st: _Stage, s: int, op: Op, start: float, end: float, m: int, v: int, events: list) -> None:
    """Put this op's data-parallel work on stage s's communication stream."""
    if inp.zero3_gather_s > 0:
        # gather the next op's weights (one chunk's worth) while this one runs
        begin = max(st.comm, start)
        st.comm = st.weights_ready = begin + inp.zero3_gather_s / v
        events.append(Event(s, "comm", "all-gather", begin, st.comm))
        if op.kind == "B":
            begin = max(st.comm, end)
            st.comm = begin + inp.zero3_scatter_s / v
            events.append(Event(s, "comm", "reduce-scatter", begin, st.comm))
    elif op.kind == "B" and op.mb == m - 1 and inp.dp_step_s > 0:
        per_bucket = inp.dp_step_s / (GRADIENT_BUCKETS_PER_CHUNK * v)
        for j in range(GRADIENT_BUCKETS_PER_CHUNK):
            begin = max(st.comm, start + (j + 1) / GRADIENT_BUCKETS_PER_CHUNK * (end - start))
            st.comm = begin + per_bucket
            events.append(Event(s, "comm", "grad reduce", begin, st.comm))


def _summarise(inp: StepInputs, stages: list[_Stage], events: list[Event], m: int) -> StepResult:
    """Step time and the shares of idle compute, taken on the stage that finishes last."""
    last = max(stages, key=lambda st: max(st.compute, st.comm))
    compute_end = last.compute
    step = max(compute_end, last.comm) + inp.optimizer_s
    busy = m * (inp.forward_s + inp.backward_s)
    waiting = last.comm_wait + (max(last.comm - compute_end, 0.0))
    bubble = max(compute_end - busy - last.comm_wait, 0.0)
    return StepResult(step, bubble / step, waiting / step, events)

"""Driving a reference server with Poisson arrivals at several rates and measuring what its users see.

Each request is a client thread: POST the prompt, wait on the status (long poll) until the clip is done,
download it, delete it. Latency is measured by the client from just before the POST to the status saying
done. Only loopback servers may be driven (the load is real), and the work is bounded: at most
MAX_REQUESTS a rate and a wall-clock limit per rate.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import numpy as np

from estimators.errors import PlanInputError

MAX_REQUESTS = 1_000
MAX_RATES = 8
POLL_WAIT_S = 30
HTTP_TIMEOUT_S = 60
PROMPTS = ("a large red circle moves right quickly on a dark flat background", "a small blue square moves up slowly",
           "a green triangle moves left on a striped background", "a large yellow circle moves down quickly")


def loopback_url(url: str) -> str:
    """The URL without a trailing slash; refused unless it names a loopback address."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:  # a bad IPv6 literal or port
        raise PlanInputError(f"--url {url}: expected http://HOST:PORT") from None
    if parts.scheme != "http" or not hostname:
        raise PlanInputError(f"--url {url}: expected http://HOST:PORT")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(hostname, port or 80)}
    except (socket.gaierror, UnicodeError):
        raise PlanInputError(f"--url {url}: cannot resolve {hostname}") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise PlanInputError(f"--url {url}: only loopback servers (127.0.0.0/8, ::1) may be load-tested")
    return url.rstrip("/")


def reachable(base: str) -> None:
    """A one-line refusal when no server answers at ``base`` (before minutes of measuring the device)."""
    try:
        _call("GET", f"{base}/clips/probe")  # an unknown id: any server of ours answers 404
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PlanInputError(f"--url {base}: no server answers ({reason})") from None


@dataclass
class Outcome:
    latency_s: Optional[float] = None
    server_latency_s: Optional[float] = None
    generation_s: Optional[float] = None
    finished: Optional[float] = None
    error: Optional[str] = None


def _call(method: str, url: str, body: Optional[bytes] = None, content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def one_request(base: str, prompt: dict, outcome: Outcome) -> None:
    """Submit, wait, download and delete one clip; fill ``outcome``."""
    start = time.monotonic()
    status, body = _call("POST", f"{base}/clips", json.dumps(prompt).encode())
    if status != 202:
        outcome.error = f"{status}: {json.loads(body or b'{}').get('error', '')}"
        return
    clip_id = json.loads(body)["id"]
    document = {"status": "queued"}
    while document["status"] in ("queued", "running"):
        status, body = _call("GET", f"{base}/clips/{clip_id}?wait={POLL_WAIT_S}")
        document = json.loads(body)
        if status != 200:
            outcome.error = f"{status}: {document.get('error', '')}"
            return
    outcome.finished = time.monotonic()
    outcome.latency_s = outcome.finished - start
    outcome.server_latency_s = document.get("latency_s")
    outcome.generation_s = document.get("generation_s")
    status, video = _call("GET", f"{base}/clips/{clip_id}/video")
    if status != 200 or not video:
        outcome.error = f"download {status}"
    _call("DELETE", f"{base}/clips/{clip_id}")


@dataclass(frozen=True)
class RateMeasurement:
    rate_per_s: float
    requests: int
    completed: int
    rejected: int
    p50_s: float
    p95_s: float
    throughput_per_s: float
    mean_server_latency_s: float
    median_generation_s: float


def drive(base: str, rate_per_s: float, requests: int, seed: int, frames: int, limit_s: float) -> RateMeasurement:
    """``requests`` requests at Poisson arrivals of ``rate_per_s``; waits for all (at most ``limit_s``)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / rate_per_s, requests)
    outcomes = [Outcome() for _ in range(requests)]
    threads = []
    begin = time.monotonic()
    for i, arrival in enumerate(np.cumsum(gaps)):
        time.sleep(max(0.0, begin + arrival - time.monotonic()))
        prompt = {"prompt": PROMPTS[i % len(PROMPTS)], "frames": frames, "seed": int(i)}
        thread = threading.Thread(target=one_request, args=(base, prompt, outcomes[i]), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=max(0.0, begin + limit_s - time.monotonic()))
    done = [o for o in outcomes if o.latency_s is not None]
    if not done:
        raise PlanInputError(f"no request finished at {rate_per_s:g} clips/s: {outcomes[0].error or 'timed out'}")
    latencies = np.array([o.latency_s for o in done])
    span = max(o.finished for o in done) - begin
    return RateMeasurement(
        rate_per_s=rate_per_s, requests=requests, completed=len(done), rejected=sum(1 for o in outcomes if o.error and o.error.startswith("503")),
        p50_s=float(np.percentile(latencies, 50)), p95_s=float(np.percentile(latencies, 95)), throughput_per_s=len(done) / span,
        mean_server_latency_s=float(np.mean([o.server_latency_s for o in done if o.server_latency_s is not None])),
        median_generation_s=float(np.median([o.generation_s for o in done if o.generation_s is not None])),
    )


def unloaded_latency(base: str, frames: int, count: int) -> float:
    """Median latency of ``count`` requests sent one after another (no queue)."""
    latencies = []
    for i in range(count):
        outcome = Outcome()
        one_request(base, {"prompt": PROMPTS[i % len(PROMPTS)], "frames": frames, "seed": 10_000 + i}, outcome)
        if outcome.latency_s is None:
            raise PlanInputError(f"the server did not answer a single request: {outcome.error}")
        latencies.append(outcome.latency_s)
    return float(np.median(latencies))

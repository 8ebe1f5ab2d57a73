"""Latency percentiles of a fleet of identical replicas under Poisson arrivals: the exact M/D/c queue.

Why M/D/c: a clip's service time is fixed by its shape, steps and guidance (the same kernels run every
time), so service is deterministic; arrivals from many independent users are Poisson. Allen-Cunneen's
M/G/c approximation would need the service-time spread we do not have and is not exact at c = 1.

Exact waiting time (Crommelin 1932; in the form of Franx 2001, "A simple solution for the M/D/c waiting
time distribution", Oper. Res. Lett. 29): with service D, c servers and N the number in system at an
arbitrary time, N at times D apart is the Markov chain N' = max(N - c, 0) + A, A ~ Poisson(lambda D). A
customer arriving at time t waits at most k D + u (0 <= u < D) exactly when the customers ahead of it
still present at t + u number at most (k + 1) c - 1, which gives
    P(W <= k D + u) = P(max(N - c, 0) + Poisson(lambda (D - u)) <= (k + 1) c - 1),
N from the chain's stationary distribution (Poisson increments are independent of the past). Latency =
W + D. A replica serving B requests at a time batches step by step (a request joins the running batch at
its next denoising step) and each request holds its place for S(B), a full batch's time: the formula's
c = replicas x B places (pessimistic when batches are not full, where a step is quicker).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from estimators.errors import PlanInputError

MAX_UTILIZATION = 0.97  # beyond it the percentiles depend on hours-long transients a stationary queue does not describe
TAIL_MASS = 1e-13  # probability left beyond the truncated state space
CONVERGED = 1e-13  # total-variation change between iterations taken as converged
MAX_ITERATIONS = 200_000
POISSON_SIGMAS = 12  # Poisson pmfs truncated this many standard deviations above the mean


def poisson_pmf(mean: float, length: int) -> np.ndarray:
    """P(Poisson(mean) = k), k = 0..length-1 (log space, stable for large means)."""
    k = np.arange(length)
    if mean == 0:
        return (k == 0).astype(float)
    logs = k * math.log(mean) - mean - np.array([math.lgamma(x + 1) for x in k])
    return np.exp(logs)


@dataclass(frozen=True)
class MDC:
    """An M/D/c queue: arrivals a second, servers, seconds of service."""

    rate_per_s: float
    servers: int
    service_s: float

    @property
    def offered(self) -> float:
        """Arrivals in one service time (Erlangs)."""
        return self.rate_per_s * self.service_s

    @property
    def utilization(self) -> float:
        return self.offered / self.servers

    def tail_decay(self) -> float:
        """theta > 0 with E[exp(theta (A - c))] = 1, A ~ Poisson(offered): the queue's tail falls as exp(-theta j)."""
        a, c = self.offered, self.servers
        theta = 2 * (c - a) / max(a, 1e-12)  # the small-theta root, refined by Newton on a (e^t - 1) - c t
        for _ in range(100):
            value, slope = a * math.expm1(theta) - c * theta, a * math.exp(theta) - c
            step = value / slope
            theta -= step
            if abs(step) < 1e-12 * max(theta, 1e-12):
                break
        return max(theta, 1e-9)

    def queued_distribution(self) -> np.ndarray:
        """P(Y = j), Y = max(N - c, 0) the clips waiting at an arbitrary time: the chain
        Y' = max(Y + A - c, 0) iterated from an empty queue to its stationary distribution."""
        if self.utilization >= 1:
            raise PlanInputError(f"an M/D/c queue at utilisation {self.utilization:.2f} never settles")
        a, c = self.offered, self.servers
        arrivals = poisson_pmf(a, int(a + POISSON_SIGMAS * math.sqrt(a) + 2 * POISSON_SIGMAS))
        length = int(math.log(1 / TAIL_MASS) / self.tail_decay() + POISSON_SIGMAS * math.sqrt(a) + 2 * POISSON_SIGMAS)
        queued = np.zeros(length)
        queued[0] = 1.0
        for _ in range(MAX_ITERATIONS):
            present = np.convolve(queued, arrivals)  # N' before the c services of the next interval end
            nxt = np.zeros(length)
            nxt[0] = present[: c + 1].sum()
            tail = present[c + 1: c + length]
            nxt[1: 1 + len(tail)] = tail
            nxt /= nxt.sum()
            if np.abs(nxt - queued).sum() < CONVERGED:
                return nxt
            queued = nxt
        raise PlanInputError(f"the M/D/c queue at utilisation {self.utilization:.3f} did not converge")

    def waiting_cdf(self, x: float, queued: np.ndarray) -> float:
        """P(W <= x) from the queued distribution."""
        k, u = divmod(x, self.service_s)
        return self._cdf(int(k), u, queued)

    def _cdf(self, k: int, u: float, queued: np.ndarray) -> float:
        limit = (k + 1) * self.servers - 1
        if limit < 0:
            return 0.0
        arrivals = poisson_pmf(self.rate_per_s * (self.service_s - u), limit + 1)
        head = queued[: limit + 1]
        # P(Y + A <= limit) = sum_j P(Y = j) P(A <= limit - j)
        cumulative = np.cumsum(arrivals)
        return float(np.dot(head, cumulative[limit - np.arange(len(head))]))

    def waiting_percentile(self, q: float, queued: np.ndarray) -> float:
        """Smallest wait x with P(W <= x) >= q."""
        k = 0
        while self._cdf(k, self.service_s, queued) < q:  # u -> D: P(Y <= (k+1)c - 1)
            k += 1
        if self._cdf(k, 0.0, queued) >= q:
            return k * self.service_s
        low, high = 0.0, self.service_s
        for _ in range(60):
            mid = (low + high) / 2
            if self._cdf(k, mid, queued) >= q:
                high = mid
            else:
                low = mid
        return k * self.service_s + high

    def latency_percentiles(self, qs: tuple[float, ...]) -> dict[float, float]:
        """Latency (wait + service) at each quantile q."""
        queued = self.queued_distribution()
        return {q: self.waiting_percentile(q, queued) + self.service_s for q in qs}


def slots(replicas: int, batch: int) -> int:
    """Servers of the formula for replicas serving ``batch`` requests at a time."""
    return replicas * batch


@lru_cache(maxsize=4096)
def fleet_percentiles(rate_per_s: float, replicas: int, batch: int, service_s: float, qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict[float, float]:
    """Latency percentiles of ``replicas`` replicas, each ``batch`` slots busy ``service_s`` a request."""
    return MDC(rate_per_s=rate_per_s, servers=slots(replicas, batch), service_s=service_s).latency_percentiles(qs)

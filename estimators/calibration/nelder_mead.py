"""A small Nelder-Mead minimiser in numpy: the profile fit's optimiser without scipy in the core install.

The steps are scipy.optimize.minimize(method="Nelder-Mead", options={"adaptive": True}) as scipy 1.x
writes them (same first simplex, same dimension-adapted coefficients of Gao and Han 2012, same order of
reflection, expansion, contractions and shrink, same stopping test), so the fitted figures do not depend
on which of the two ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

FIRST_STEP = 0.05  # the first simplex moves each coordinate by 5% of itself ...
FIRST_STEP_AT_ZERO = 0.00025  # ... or to this value where it is zero


@dataclass(frozen=True)
class Minimum:
    """Where the search stopped, the objective there, and the iterations it took."""

    x: np.ndarray
    fun: float
    iterations: int


def _first_simplex(x0: np.ndarray) -> np.ndarray:
    simplex = np.tile(x0, (len(x0) + 1, 1))
    for k in range(len(x0)):
        simplex[k + 1, k] = (1 + FIRST_STEP) * x0[k] if x0[k] != 0 else FIRST_STEP_AT_ZERO
    return simplex


def minimize(objective: Callable[[np.ndarray], float], x0, max_iterations: int, x_tolerance: float, f_tolerance: float) -> Minimum:
    """Minimise ``objective`` from ``x0``; stops when every vertex is within ``x_tolerance`` of the best in
    each coordinate and within ``f_tolerance`` of its value, or after ``max_iterations``."""
    x0 = np.asarray(x0, dtype=float)
    n = len(x0)
    rho, chi, psi, sigma = 1.0, 1 + 2 / n, 0.75 - 1 / (2 * n), 1 - 1 / n  # adaptive coefficients
    simplex = _first_simplex(x0)
    values = np.array([objective(x) for x in simplex])
    order = np.argsort(values)
    simplex, values = simplex[order], values[order]
    iterations = 1
    while iterations < max_iterations:
        if np.max(np.abs(simplex[1:] - simplex[0])) <= x_tolerance and np.max(np.abs(values[0] - values[1:])) <= f_tolerance:
            break
        centre = simplex[:-1].sum(axis=0) / n
        worst = simplex[-1]
        reflected = (1 + rho) * centre - rho * worst
        f_reflected = objective(reflected)
        shrink = False
        if f_reflected < values[0]:
            expanded = (1 + rho * chi) * centre - rho * chi * worst
            f_expanded = objective(expanded)
            simplex[-1], values[-1] = (expanded, f_expanded) if f_expanded < f_reflected else (reflected, f_reflected)
        elif f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
        elif f_reflected < values[-1]:
            outside = (1 + psi * rho) * centre - psi * rho * worst
            f_outside = objective(outside)
            shrink = f_outside > f_reflected
            if not shrink:
                simplex[-1], values[-1] = outside, f_outside
        else:
            inside = (1 - psi) * centre + psi * worst
            f_inside = objective(inside)
            shrink = f_inside >= values[-1]
            if not shrink:
                simplex[-1], values[-1] = inside, f_inside
        if shrink:
            for j in range(1, n + 1):
                simplex[j] = simplex[0] + sigma * (simplex[j] - simplex[0])
                values[j] = objective(simplex[j])
        iterations += 1
        order = np.argsort(values)
        simplex, values = simplex[order], values[order]
    return Minimum(x=simplex[0], fun=float(np.min(values)), iterations=iterations)

"""GPU rental prices: the one basis every bundled price is quoted on, and user overrides (--price KIND=USD).

Prices are data (estimators/data/hardware/*.yaml, source and date per figure); this module only reads
them, states their basis and replaces them where the user gives a price of their own.
"""
from __future__ import annotations

import datetime
from functools import lru_cache

from estimators.catalog.files import read_data
from estimators.catalog.gpus import load_gpu
from estimators.errors import PlanInputError
from estimators.results import Result
from estimators.specs.hardware import Figure, GPUSpec

OVERRIDE_SOURCE = "--price override"


@lru_cache(maxsize=None)
def price_basis() -> str:
    """The basis of the bundled prices, in words (printed with every cost)."""
    return " ".join(str(read_data("price_basis.yaml").get("basis", "")).split())


def parse_price_overrides(texts: list[str]) -> dict[str, float]:
    """['H100=2.5', 'B200=4'] -> {'H100-SXM': 2.5, 'B200': 4.0}, keyed by canonical GPU name."""
    prices = {}
    for text in texts:
        kind, sep, usd = text.partition("=")
        if not sep:
            raise PlanInputError(f"--price '{text}': expected KIND=USD, e.g. H100=2.50")
        try:
            value = float(usd)
        except ValueError:
            raise PlanInputError(f"--price '{text}': {usd!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise PlanInputError(f"--price '{text}': the price must be a positive number of dollars per GPU-hour")
        name = load_gpu(kind.strip()).name
        if prices.get(name, value) != value:
            raise PlanInputError(f"--price {name} given twice ({prices[name]:g}, then {value:g}): give one price per GPU kind")
        prices[name] = value
    return prices


def with_price(gpu: GPUSpec, prices: dict[str, float]) -> GPUSpec:
    """The GPU with the user's price (a single figure, no range) when one is given for it."""
    if gpu.name not in prices:
        return gpu
    usd = prices[gpu.name]
    figure = Figure(value=usd, low=usd, high=usd, source=OVERRIDE_SOURCE, date=datetime.date.today())
    return gpu.model_copy(update={"price_usd_per_gpu_hour": figure})


class PriceQuote(Result):
    """The price a plan used, its range, source and basis (in every document that shows a cost)."""

    gpu: str
    usd_per_gpu_hour: float
    low: float
    high: float
    basis: str
    source: str
    date: str

    @classmethod
    def of(cls, gpu: GPUSpec) -> "PriceQuote":
        price = gpu.price_usd_per_gpu_hour
        overridden = price.source == OVERRIDE_SOURCE
        return cls(gpu=gpu.name, usd_per_gpu_hour=price.value,
                   low=price.low if price.low is not None else price.value,
                   high=price.high if price.high is not None else price.value,
                   basis="user-given price (--price)" if overridden else price_basis(),
                   source=price.source, date=price.date.isoformat())

    def line(self) -> str:
        """One line for tables: '$3.00/GPU-hour (range $1.99-6.16; basis: ...)'."""
        return f"${self.usd_per_gpu_hour:.2f}/GPU-hour (range ${self.low:.2f}-{self.high:.2f}; {self.basis})"

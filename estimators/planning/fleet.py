"""Which GPU kind, how many, which layout: a search over kinds x cluster sizes (whole nodes) x layouts
against a deadline and/or a budget.

Every candidate is a full plan (``estimate.plan``), so its figures are exactly those ``plan estimate``
gives for that cluster. A plan meets a deadline when its elapsed days (training plus the one-off
preprocessing on the same cluster) are within it; it meets a budget when its cost at the point price
is within it. Each plan also has a high end: preprocessing plus the P90 wall clock, with failures and
checkpoints (planning/failures.py), of the high end of its training-time range, and its cost at the
quoted price over those days. A choice whose high end misses the deadline or the budget is said to be at
risk, and the plan that meets it even at its high end is named.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field

from estimators.errors import PlanInputError
from estimators.planning.estimate import failure_model, plan
from estimators.planning.failures import HOURS_PER_DAY, outlook
from estimators.planning.request import PlanRequest
from estimators.planning.results import Plan, StagePlan
from estimators.results import Document, Result
from estimators.search.alternatives import short_label
from estimators.specs.base import Spec
from estimators.specs.bounds import Bound
from estimators.specs.hardware import Cluster, GPUSpec
from estimators.units import SECONDS_PER_DAY

DEFAULT_MAX_GPUS = 2048  # 256 nodes of 8: beyond a 512-clip global batch most GPUs would only add model parallelism
SIZE_GRID_FACTORS = (2, 3)  # node counts 2^k and 3 x 2^(k-1): 1, 2, 3, 4, 6, 8, 12, ... (steps of at most 1.5x)


def node_counts(max_nodes: int) -> list[int]:
    """Node counts searched: powers of two and 1.5 x powers of two up to max_nodes, and max_nodes itself."""
    counts, power = {max_nodes}, 1
    while power <= max_nodes:
        counts.update(c for c in (power, power * SIZE_GRID_FACTORS[1] // SIZE_GRID_FACTORS[0]) if 1 <= c <= max_nodes)
        power *= SIZE_GRID_FACTORS[0]
    return sorted(counts)


def sizes(gpu: GPUSpec, max_gpus: int) -> list[int]:
    """Cluster sizes searched for one kind: whole nodes on the node-count grid."""
    return [nodes * gpu.node_size for nodes in node_counts(max_gpus // gpu.node_size)]


class FleetOption(Result):
    """One GPU kind at one cluster size with its best layout per stage (and, once judged, why it is not the answer)."""

    gpu: str
    num_gpus: int
    layout: str = Field(description="The best layout of each stage, 'stage: label' joined by '; '.")
    train_time_days: float
    preprocessing_days: float
    elapsed_days: float = Field(description="Training + one-off preprocessing on the same cluster: what a deadline limits.")
    elapsed_days_low: float = Field(description="Preprocessing + the low end of the training-time range (failure-free).")
    elapsed_days_high: float = Field(description="Preprocessing + the P90 wall clock, with failures and checkpoints, of the high end "
                                                 "of the training-time range.")
    gpu_hours: float
    cost_usd: float
    cost_usd_range: tuple[float, float] = Field(description="[low, high]: the time range at the price range (failure-free).")
    cost_usd_high: float = Field(description="At the quoted price over elapsed_days_high: what a budget must cover at the high end.")
    usd_per_gpu_hour: float
    steps: int = Field(description="Optimizer steps of the whole workload (every plan trains the same).")
    why_not: str = ""
    risk: str = Field(default="", description="How the high end misses the query (empty when it meets it).")

    def judged(self, query: "FleetQuery", why_not: str) -> "FleetOption":
        return self.model_copy(update={"why_not": why_not, "risk": query.risk(self)})


def _range_text(o: FleetOption) -> str:
    """'20.20 days (17.44-24.62)'."""
    return f"{o.elapsed_days:,.2f} days ({o.elapsed_days_low:,.2f}-{o.elapsed_days_high:,.2f})"


class FleetQueryInfo(Result):
    deadline_days: Optional[float]
    budget_usd: Optional[float]
    max_gpus: int
    gpus: list[str]
    sizes_searched: dict[str, list[int]]
    sizes_with_a_fitting_layout: dict[str, list[int]]
    plans_evaluated: int


class FleetAnswer(Document):
    """`plan estimate --deadline-days/--budget-usd --json`: the choice, runners-up of each kind, the chosen plan."""

    kind: Literal["estimate-deadline"] = "estimate-deadline"

    query: FleetQueryInfo
    answer: str = Field(description="One line: what to rent, for how long, at what cost, with ranges; at risk or not.")
    explanation: list[str] = Field(description="What each GPU kind can do against the query, one line each.")
    choice: Optional[FleetOption]
    at_risk: bool = Field(description="The choice's high end (time range and failures, P90) misses the deadline or the budget.")
    safer: Optional[FleetOption] = Field(description="When the choice is at risk: the plan that meets the query even at its high end "
                                                     "(None: none searched does).")
    nearest: Optional[FleetOption]
    fastest: FleetOption
    candidates: list[FleetOption]
    plan: Optional[Plan] = Field(description="The chosen plan in full (None when nothing meets the query).")


def on_cluster(base: PlanRequest, gpu: GPUSpec, num_gpus: int) -> PlanRequest:
    """The request on ``num_gpus`` x ``gpu`` with every layout searched."""
    return base.model_copy(update={"cluster": Cluster(gpu=gpu, num_gpus=num_gpus), "layout": None, "gpu_kinds": ()})


def evaluate_option(base: PlanRequest, gpu: GPUSpec, num_gpus: int) -> Optional[FleetOption]:
    """The plan of ``gpu`` x ``num_gpus`` (layouts searched per stage), or None when no layout fits."""
    try:
        result = plan(on_cluster(base, gpu, num_gpus).model_copy(update={"valid_layouts_only": True}))
    except PlanInputError:
        return None
    labels = [f"{s.name}: {_label(s)}" for s in result.stages]
    price = gpu.price_usd_per_gpu_hour.value
    train_high_days = result.uncertainty.train_time_days.high
    high = result.preprocessing_days + outlook(failure_model(num_gpus, result.params.dit_resident), train_high_days * SECONDS_PER_DAY).p90_days
    return FleetOption(
        gpu=gpu.name, num_gpus=num_gpus, layout="; ".join(labels) if len(labels) > 1 else _label(result.stages[0]),
        train_time_days=result.train_time_days, preprocessing_days=result.preprocessing_days,
        elapsed_days=result.elapsed_days, elapsed_days_low=result.preprocessing_days + result.uncertainty.train_time_days.low,
        elapsed_days_high=high, gpu_hours=result.gpu_hours, cost_usd=result.cost_usd, cost_usd_range=result.cost_usd_range,
        cost_usd_high=high * HOURS_PER_DAY * num_gpus * price, usd_per_gpu_hour=price, steps=sum(s.steps for s in result.stages),
    )


def _label(stage: StagePlan) -> str:
    search = stage.search_result
    return short_label(search.layouts, int(search.ranked[0]))


class FleetQuery(Spec):
    """A deadline and/or a budget over some GPU kinds, cluster sizes up to max_gpus."""

    deadline_days: Optional[Annotated[float, Bound(0, 36_500, above=True)]] = Field(default=None, description="Days to finish in (at most a century).")
    budget_usd: Optional[Annotated[float, Bound(0, 1e12, above=True)]] = Field(default=None, description="US dollars to spend at most.")
    # Every kind is planned at each size: 16,384 GPUs take about 7 s here.
    max_gpus: Annotated[int, Bound(1, 16_384)] = Field(default=DEFAULT_MAX_GPUS, description="Largest cluster tried (whole nodes).")

    def meets(self, o: FleetOption) -> bool:
        return (self.deadline_days is None or o.elapsed_days <= self.deadline_days) and (
            self.budget_usd is None or o.cost_usd <= self.budget_usd
        )

    def meets_at_high_end(self, o: FleetOption) -> bool:
        return (self.deadline_days is None or o.elapsed_days_high <= self.deadline_days) and (
            self.budget_usd is None or o.cost_usd_high <= self.budget_usd
        )

    def risk(self, o: FleetOption) -> str:
        """How a plan that meets the query misses it at its high end, in words ('' when it does not)."""
        if not self.meets(o) or self.meets_at_high_end(o):
            return ""
        misses = []
        if self.deadline_days is not None and o.elapsed_days_high > self.deadline_days:
            misses.append(f"{o.elapsed_days_high:,.2f} days > {self.deadline_days:g}")
        if self.budget_usd is not None and o.cost_usd_high > self.budget_usd:
            misses.append(f"${o.cost_usd_high:,.0f} > ${self.budget_usd:,.0f}")
        return "at risk: its high end (time range and failures, P90) misses: " + "; ".join(misses)

    def preference(self, o: FleetOption) -> tuple:
        """Sort key among plans that meet the query: cheapest when a deadline is given, else fastest."""
        if self.deadline_days is not None:
            return (o.cost_usd, o.elapsed_days)
        return (o.elapsed_days, o.cost_usd)

    def shortfall(self, o: FleetOption) -> float:
        """How far a plan misses: the larger relative overshoot of days and cost (0 when it meets both)."""
        over = [0.0]
        if self.deadline_days is not None:
            over.append(o.elapsed_days / self.deadline_days - 1)
        if self.budget_usd is not None:
            over.append(o.cost_usd / self.budget_usd - 1)
        return max(over)


def search_options(base: PlanRequest, kinds: tuple[GPUSpec, ...], query: FleetQuery) -> dict[str, list[FleetOption]]:
    """Every kind at every searched size where some layout fits, by kind (ascending size)."""
    found = {}
    for gpu in kinds:
        max_nodes = query.max_gpus // gpu.node_size
        if max_nodes < 1:
            raise PlanInputError(f"--max-gpus {query.max_gpus} is less than one {gpu.name} node ({gpu.node_size} GPUs)")
        options = (evaluate_option(base, gpu, n) for n in sizes(gpu, query.max_gpus))
        found[gpu.name] = [o for o in options if o is not None]
    return found


def _why_not(query: FleetQuery, o: FleetOption, choice: Optional[FleetOption]) -> str:
    """Why a plan is not the answer, in words."""
    misses = []
    if query.deadline_days is not None and o.elapsed_days > query.deadline_days:
        misses.append(f"misses the deadline ({o.elapsed_days:.2f} > {query.deadline_days:g} days)")
    if query.budget_usd is not None and o.cost_usd > query.budget_usd:
        misses.append(f"over budget (${o.cost_usd:,.0f} > ${query.budget_usd:,.0f})")
    if misses:
        return "; ".join(misses)
    if choice is None or o == choice:
        return "the choice" if o == choice else "meets the query"
    if query.deadline_days is not None:
        return f"costs ${o.cost_usd - choice.cost_usd:,.0f} more ({o.cost_usd / choice.cost_usd - 1:+.1%}) than the choice"
    return f"{o.elapsed_days - choice.elapsed_days:.2f} days slower ({o.elapsed_days / choice.elapsed_days - 1:+.1%}) than the choice"


def _runners_up(query: FleetQuery, options: list[FleetOption]) -> list[FleetOption]:
    """A kind's best plan that meets the query and its neighbour that shows why no other size is better: the
    next smaller size under a deadline (too slow or dearer), the next larger under a budget alone (over it
    or slower); or, when none of its sizes meets the query, the one that misses by least."""
    meeting = [o for o in options if query.meets(o)]
    if not meeting:
        return [min(options, key=lambda o: (query.shortfall(o), o.elapsed_days))] if options else []
    best = min(meeting, key=query.preference)
    if query.deadline_days is not None:
        neighbour = [o for o in options if o.num_gpus < best.num_gpus][-1:]
    else:
        neighbour = [o for o in options if o.num_gpus > best.num_gpus][:1]
    return sorted([best, *neighbour], key=lambda o: o.num_gpus)


def answer(base: PlanRequest, kinds: tuple[GPUSpec, ...], query: FleetQuery) -> FleetAnswer:
    """The choice (with its risk and a safer plan), the runners-up of each kind with why they lose, one line of answer."""
    if query.deadline_days is None and query.budget_usd is None:
        raise PlanInputError("give --deadline-days and/or --budget-usd to search GPU kinds and sizes")
    by_kind = search_options(base, kinds, query)
    everything = [o for options in by_kind.values() for o in options]
    if not everything:
        raise PlanInputError(f"no cluster of up to {query.max_gpus} GPUs of {', '.join(by_kind)} has a valid layout that fits in memory")
    meeting = [o for o in everything if query.meets(o)]
    choice = min(meeting, key=query.preference) if meeting else None
    at_risk = choice is not None and not query.meets_at_high_end(choice)
    safe = [o for o in everything if query.meets_at_high_end(o)]
    safer = min(safe, key=query.preference) if at_risk and safe else None
    listed = [o for options in by_kind.values() for o in _runners_up(query, options)] + ([safer] if safer else [])
    nearest = None if choice else min(everything, key=lambda o: (query.shortfall(o), o.cost_usd))
    fastest = min(everything, key=lambda o: o.elapsed_days)
    chosen = next((g for g in kinds if choice is not None and g.name == choice.gpu), None)
    return FleetAnswer(
        query=FleetQueryInfo(deadline_days=query.deadline_days, budget_usd=query.budget_usd, max_gpus=query.max_gpus,
                             gpus=list(by_kind), sizes_searched={g.name: sizes(g, query.max_gpus) for g in kinds},
                             sizes_with_a_fitting_layout={k: [o.num_gpus for o in v] for k, v in by_kind.items()},
                             plans_evaluated=len(everything)),
        answer=_answer_line(query, choice, safer, nearest, fastest, everything),
        explanation=_kind_lines(query, by_kind),
        choice=choice.judged(query, _why_not(query, choice, choice)) if choice else None,
        at_risk=at_risk, safer=safer.judged(query, _why_not(query, safer, choice)) if safer else None,
        nearest=nearest.judged(query, _why_not(query, nearest, None)) if nearest else None,
        fastest=fastest.judged(query, _why_not(query, fastest, choice)),
        candidates=[o.judged(query, _why_not(query, o, choice)) for o in sorted(set(listed), key=lambda o: (o.gpu, o.num_gpus))],
        plan=plan(on_cluster(base, chosen, choice.num_gpus)) if choice else None,
    )


def _wanted(query: FleetQuery) -> str:
    return " and ".join(
        ([f"the {query.deadline_days:g}-day deadline"] if query.deadline_days is not None else [])
        + ([f"the ${query.budget_usd:,.0f} budget"] if query.budget_usd is not None else [])
    )


def _rent(o: FleetOption) -> str:
    low, high = o.cost_usd_range
    return f"{o.num_gpus:,} x {o.gpu} for {_range_text(o)} at ${o.cost_usd:,.0f} (${low:,.0f}-${high:,.0f})"


def _answer_line(query: FleetQuery, choice: Optional[FleetOption], safer: Optional[FleetOption], nearest: Optional[FleetOption],
                 fastest: FleetOption, everything: list[FleetOption]) -> str:
    """One line: the plan to rent with its ranges (days: time range, then failures at P90), and its risk; or what
    the query can have instead."""
    wanted = _wanted(query)
    if choice is not None:
        goal = "Cheapest plan meeting" if query.deadline_days is not None else "Fastest plan within"
        line = f"{goal} {wanted}: rent {_rent(choice)}, layout {choice.layout}."
        if query.risk(choice):
            line += f" AT RISK: {query.risk(choice).split(': ', 1)[1]}; " + (
                f"safer: {_rent(safer)}." if safer else "no plan searched meets it at its high end.")
        return line
    if query.deadline_days is None:
        return f"No plan searched fits {wanted}. " + _what_the_budget_buys(query.budget_usd, everything)
    named = [("Nearest", nearest)] + ([("Fastest", fastest)] if fastest != nearest else [])
    return f"No plan searched meets {wanted}. " + " ".join(f"{what}: {_rent(o)}." for what, o in named)


def _what_the_budget_buys(budget_usd: float, everything: list[FleetOption]) -> str:
    """What a budget that no plan fits buys: GPU-hours, and the share of the cheapest plan's training."""
    cheapest = min(everything, key=lambda o: o.cost_usd)
    share = budget_usd / cheapest.cost_usd
    return (f"It buys {budget_usd / cheapest.usd_per_gpu_hour:,.0f} {cheapest.gpu} GPU-hours at ${cheapest.usd_per_gpu_hour:.2f}: "
            f"{share:.0%} of the cheapest plan ({cheapest.num_gpus:,} x {cheapest.gpu}, {cheapest.elapsed_days:,.2f} days, "
            f"${cheapest.cost_usd:,.0f}), about {int(share * cheapest.steps):,} of its {cheapest.steps:,} steps.")


def _kind_lines(query: FleetQuery, by_kind: dict) -> list[str]:
    """For each kind that cannot meet the query: its best attempt, or that nothing fits."""
    wanted, lines = _wanted(query), []
    for kind, options in by_kind.items():
        if options and not any(query.meets(o) for o in options):
            by_deadline = query.deadline_days is not None
            best = min(options, key=(lambda o: o.elapsed_days) if by_deadline else (lambda o: o.cost_usd))
            lines.append(f"No {kind} cluster of up to {query.max_gpus} GPUs meets {wanted}; its "
                         f"{'fastest' if by_deadline else 'cheapest'} is {best.num_gpus} GPUs in {best.elapsed_days:.2f} days "
                         f"for ${best.cost_usd:,.0f}.")
        elif not options:
            lines.append(f"No {kind} cluster of up to {query.max_gpus} GPUs has a valid layout that fits in memory.")
    return lines

"""Why no layout is valid and fits: the constraint that excluded the most candidates, in numbers."""
from __future__ import annotations

from collections import Counter

import numpy as np

from estimators.counts.problem import TrainingProblem
from estimators.errors import PlanInputError
from estimators.search.evaluate import TP_BEYOND_DOMAIN, LayoutEvaluation
from estimators.search.layout_search import SearchResult, enumerate_layouts
from estimators.specs.layout_arrays import LayoutArrays
from estimators.time.step import RunSettings

GIB = 2**30
DOES_NOT_FIT = "does not fit in memory"


def describe(reason: str, prob: TrainingProblem, settings: RunSettings, lay: LayoutArrays, i: int) -> str:
    """A validity reason of layout ``i`` with its numbers (e.g. '24 heads do not divide by tp x cp = 16')."""
    tp, cp, pp, vpp = int(lay.tp[i]), int(lay.cp[i]), int(lay.pp[i]), int(lay.vpp[i])
    dp, mb = int(lay.dp[i]), int(lay.micro_batch[i])
    details = {
        TP_BEYOND_DOMAIN: f"tp={tp} larger than one {settings.gpu.scale_up_fabric} domain ({settings.gpu.domain_size} GPUs)",
        "heads do not divide by tp": f"{prob.heads} heads ({prob.kv_heads} key/value) do not divide by tp={tp}",
        "Ulysses needs heads/tp divisible by cp": f"{prob.heads} heads do not divide by tp x cp = {tp * cp} (Ulysses)",
        "fewer layers than pipeline chunks": f"{prob.num_layers} layers are fewer than pp x vpp = {pp * vpp}",
        "global batch does not divide by dp x micro-batch": f"global batch {settings.global_batch} does not divide by dp x micro_batch = {dp * mb}",
        "fewer tokens than cp x tp": f"{prob.tokens} tokens are fewer than cp x tp = {cp * tp}",
    }
    return details.get(reason, reason)


def _tally(prob: TrainingProblem, settings: RunSettings, lay: LayoutArrays, evaluation: LayoutEvaluation) -> str:
    """The most common reason among the candidates, with its count and an example's numbers."""
    reasons = np.where(evaluation.valid & ~evaluation.fits, DOES_NOT_FIT, evaluation.reason)
    reason, count = Counter(reasons.tolist()).most_common(1)[0]
    example = int(np.flatnonzero(reasons == reason)[0])
    if reason == DOES_NOT_FIT:
        smallest = float(evaluation.memory.total[evaluation.valid].min())
        detail = f"{DOES_NOT_FIT} (the smallest needs {smallest / GIB:.0f} GiB of {settings.gpu.hbm_bytes.value / GIB:.0f} GiB)"
    else:
        detail = describe(reason, prob, settings, lay, example)
    return f"{detail}, which excludes {count:,} of {len(lay):,} candidates"


def no_layout_message(result: SearchResult, prob: TrainingProblem, settings: RunSettings, num_gpus: int, fixed: dict | None) -> str:
    """Why ``result`` ranked nothing. When the enumeration produced nothing for the pinned knobs, the
    pinned layouts are enumerated again with tp allowed beyond a scale-up domain, the one shortcut it can relax."""
    head = f"no layout of {num_gpus} GPUs is valid and fits in memory for {prob.name}"
    if len(result.layouts) > 0:
        return f"{head}: {_tally(prob, settings, result.layouts, result.evaluation)}"
    try:
        beyond_node = enumerate_layouts(num_gpus, num_gpus, settings.global_batch, fixed, prob.num_layers)
    except PlanInputError:
        beyond_node = result.layouts
    if len(beyond_node) > 0:  # every candidate the pins leave needs tp beyond a domain
        detail = describe(TP_BEYOND_DOMAIN, prob, settings, beyond_node, 0)
        return f"{head}: {detail}, which excludes all {len(beyond_node):,} candidates"
    pins = ", ".join(f"{k}={v}" for k, v in (fixed or {}).items()) or "no pins"
    return (f"{head}: none has {pins} with tp x cp x pp x dp = {num_gpus}, dp x micro_batch dividing the "
            f"global batch {settings.global_batch} and micro_batch up to 16")

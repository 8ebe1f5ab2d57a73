"""Collective byte counts by hand, and the search's guarantees."""
import numpy as np
import pytest

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.counts.problem import video_problem
from estimators.search import layout_search
from estimators.search.layout_search import enumerate_layouts, search
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.comm import bytes_per_rank, group_crosses_nodes
from estimators.time.step import RunSettings

MOCHI = load_model("mochi-10b")


def test_ring_bytes_by_hand():
    # 1 GB buffer over 4 ranks: all-reduce 2 x 3/4 = 1.5 GB; all-gather/reduce-scatter/all-to-all 3/4
    assert bytes_per_rank("all_reduce", 1e9, 4) == pytest.approx(1.5e9)
    assert bytes_per_rank("all_gather", 1e9, 4) == pytest.approx(0.75e9)
    assert bytes_per_rank("reduce_scatter", 1e9, 4) == pytest.approx(0.75e9)
    assert bytes_per_rank("all_to_all", 1e9, 4) == pytest.approx(0.75e9)
    assert bytes_per_rank("all_reduce", 1e9, 1) == 0
    # DP all-reduce of Mochi's bf16 gradients over 2 replicas: 2 x 1/2 x 2 bytes x 10,027,677,744
    assert bytes_per_rank("all_reduce", 2 * 10_027_677_744, 2) == pytest.approx(20_055_355_488)


def test_groups_cross_nodes_only_past_eight_gpus():
    assert not group_crosses_nodes(8, 1, 8)  # tp 8 fills a node
    assert group_crosses_nodes(2, 8, 8)  # cp 2 above tp 8 spans two nodes
    assert not group_crosses_nodes(1, 64, 8)  # a single rank crosses nothing


def _search(num_gpus, global_batch=512):
    stage = TrainingStage(height=480, width=848, frames=163, text_tokens=256, steps=10, global_batch=global_batch)
    prob = video_problem(MOCHI, stage, Workload(stages=(stage,)))
    gpu = load_gpu("H100")
    return search(prob, RunSettings.resolve(gpu, global_batch=global_batch), num_gpus)


def test_layouts_multiply_to_the_cluster():
    lay = enumerate_layouts(64, 8, 512)
    assert np.all(lay.tp * lay.cp * lay.pp * lay.dp == 64)
    assert np.all(lay.tp <= 8)


def test_unfit_or_invalid_layouts_are_never_ranked():
    result = _search(64)
    ranked = result.ranked
    assert len(ranked) > 0
    assert np.all(result.evaluation.fits[ranked]) and np.all(result.evaluation.valid[ranked])
    assert not np.all(result.evaluation.fits)  # some layouts do not fit, and were left out


def test_more_gpus_never_raise_the_best_compute_part():
    best = []
    for n in (64, 128, 256, 512):
        result = _search(n)
        i = result.ranked[0]
        best.append(result.evaluation.time.compute_s[i])
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(best, best[1:]))


def test_best_mochi_layout_on_512_h100_fits_80_gib():
    result = _search(512)
    i = result.ranked[0]
    assert result.evaluation.memory.total[i] <= 80 * 2**30


def test_leaving_out_partial_recompute_where_saving_everything_is_safe_keeps_the_best_layouts(monkeypatch):
    """The search evaluates partial recompute and activation offload only for configurations whose no-recompute
    layout is at risk; on 64 GPUs (tight: some configurations at risk, some not) the best five are those of the
    full enumeration, and fewer layouts were evaluated."""
    def best(result):
        return [result.layouts.layout(int(i)) for i in result.ranked[:5]]
    pruned = _search(64)
    monkeypatch.setattr(layout_search, "needed", lambda prob, lay, settings: np.ones(len(lay), dtype=bool))
    whole = _search(64)
    assert len(pruned.layouts) < len(whole.layouts)
    assert best(pruned) == best(whole)

"""Kernel tables per GPU kind and kernel availability (issue 19, items 1, 2 and 6)."""
import numpy as np
import pytest
import yaml

from estimators.catalog.files import DATA_DIR
from estimators.errors import PlanInputError
from estimators.time.kernels import (
    attention_kernel,
    available_kernels,
    default_kernel,
    gemm_efficiency,
    gemm_source,
    kernel_transfer,
)

ATTENTION = yaml.safe_load((DATA_DIR / "kernels" / "attention.yaml").read_text())
GEMM = yaml.safe_load((DATA_DIR / "kernels" / "gemm.yaml").read_text())


def _peak(curve):
    gpu = curve.get("measured_on")
    measured = ATTENTION["measured_gpus"][gpu] if gpu else ATTENTION["architectures"][curve["arch"]]["measured_on"]
    return measured[f"peak_tflops_{curve['precision']}"]


def test_every_curve_and_table_names_its_source_and_stays_below_its_peak():
    for curve in ATTENTION["curves"]:
        assert curve["source"] and curve["date"]
        assert max(curve["tflops"]) <= _peak(curve)
    for arch, table in GEMM["tables"].items():
        assert table["source"] and table["date"]
        for precision, points in table["points"].items():
            assert max(p[4] for p in points) <= table["measured_on"]["peak_tflops"][precision], (arch, precision)


def test_b200_gemms_come_from_the_b200_table():
    """OpenXLA's sm_100_B200 table: 4096^3 BF16 = 1,416.9 TFLOP/s, 63% of 2,250 (the plan assumed H100's 79%)."""
    assert gemm_source("B200", "bf16") == ("sm100", "bf16", 1.0)
    assert float(gemm_efficiency(4096, 4096, 4096, "B200")) == pytest.approx(1416.9 / 2250, rel=1e-3)
    assert float(gemm_efficiency(4096, 4096, 4096, "H100-SXM")) == pytest.approx(783.3 / 989, rel=1e-3)
    # FP8 from the same table (e4m3 x e4m3 -> bf16 at 4096^3: 2,765.0 of 4,500)
    assert float(gemm_efficiency(4096, 4096, 4096, "B200", "fp8")) == pytest.approx(2765.0 / 4500, rel=1e-3)


def test_amd_gemms_come_from_their_own_tables_or_a_cited_anchor():
    # gfx942 (ROCm/xla): 4096^3 BF16 583.1 TFLOP/s of MI300X's 1,307.4
    assert float(gemm_efficiency(4096, 4096, 4096, "MI300X")) == pytest.approx(583.1 / 1307.4, rel=1e-3)
    # MI325X: the gfx942 shape anchored at HipKittens' hipBLASLt 4096^3 reading, 752.5 of 1,307.4
    assert float(gemm_efficiency(4096, 4096, 4096, "MI325X")) == pytest.approx(752.5 / 1307.4, rel=2e-3)
    # gfx950: 4096^3 BF16 1,240.0 of MI355X's 2,516.6
    assert float(gemm_efficiency(4096, 4096, 4096, "MI355X")) == pytest.approx(1240.0 / 2516.6, rel=1e-3)
    with pytest.raises(PlanInputError, match="no fp8 GEMM benchmark for MI300X"):
        gemm_efficiency(4096, 4096, 4096, "MI300X", "fp8")


def test_b200_attention_comes_from_blackwell_benchmarks():
    cudnn = attention_kernel("cudnn", "B200")
    # causal head dim 128 at 16k: B200's own cuDNN 9.13.1 figure, 1,475.3 TFLOP/s of 2,250
    assert float(cudnn.efficiency(16384, 128, "forward", causal=True)) == pytest.approx(1475.3 / 2250, rel=1e-3)
    # non-causal at 32k and beyond: GB200's cuDNN 9.22 figure, 1,634 of GB200's 2,500
    assert float(cudnn.efficiency(44_776, 128, "forward")) == pytest.approx(1634 / 2500, rel=1e-3)
    # GB200 prefers its own causal figure (1,708 at 16k)
    assert float(attention_kernel("cudnn", "GB200").efficiency(16384, 128, "forward", causal=True)) == pytest.approx(1708 / 2500, rel=1e-3)


def test_kernels_are_refused_where_they_do_not_run_with_the_ones_that_do():
    with pytest.raises(PlanInputError, match=r"flash-attention-3 does not run on B200.*kernels there: cudnn, unfused"):
        attention_kernel("flash-attention-3", "B200")
    with pytest.raises(PlanInputError, match=r"aiter does not run on H100-SXM"):
        attention_kernel("aiter", "H100-SXM")
    with pytest.raises(PlanInputError, match=r"cudnn: no published benchmark of it on A100-80G.*flash-attention-2, unfused"):
        attention_kernel("cudnn", "A100-80G")
    assert available_kernels("MI300X") == ("aiter", "unfused")
    assert default_kernel("MI355X") == "aiter" and default_kernel("GB200") == "cudnn" and default_kernel("L40S") == "flash-attention-2"


def test_an_fp8_attention_kernel_under_bf16_is_refused_not_ignored():
    with pytest.raises(PlanInputError, match="flash-attention-3-fp8 runs attention in FP8: it needs --precision fp8"):
        attention_kernel("flash-attention-3-fp8", "H100-SXM", "bf16")
    assert attention_kernel("flash-attention-3-fp8", "H100-SXM", "fp8").runs_in("forward", "fp8") == "fp8"
    assert "cudnn-fp8" in available_kernels("B200", "fp8") and "cudnn-fp8" not in available_kernels("B200", "bf16")


@pytest.mark.parametrize("kernel", ["cudnn", "flash-attention-2", "flash-attention-3"])
def test_causal_attention_is_read_per_head_dim(kernel):
    """Shah et al. 2024 Fig. 5b publishes causal head dim 64: the lookup returns it, never above its own
    non-causal figure (the hd128 ratio applied to hd64 put cuDNN causal hd64 at 16k above 413)."""
    k = attention_kernel(kernel, "H100-SXM")
    causal = np.array([float(k.efficiency(s, 64, "forward", causal=True)) for s in (512, 2048, 16384)])
    plain = np.array([float(k.efficiency(s, 64, "forward")) for s in (512, 2048, 16384)])
    assert np.all(causal <= plain)
    published = next(c for c in ATTENTION["curves"] if c["kernel"] == kernel and c["arch"] == "sm90" and c["causal"]
                     and c["head_dim"] == 64)
    assert causal[-1] == pytest.approx(published["tflops"][-1] / 989, rel=1e-6)
    # between head dims the causal efficiency lies between the two published causal curves
    mid = float(k.efficiency(16384, 96, "forward", causal=True))
    high = float(k.efficiency(16384, 128, "forward", causal=True))
    assert min(causal[-1], high) <= mid <= max(causal[-1], high)


def test_fp8_flash_attention_3_below_8k_is_its_published_figure_not_the_8k_one():
    """App. C.2, Fig. 9c: 348 TFLOP/s at 512 (the old table clamped 512 to the 8k value, 1,000)."""
    k = attention_kernel("flash-attention-3-fp8", "H100-SXM", "fp8")
    assert float(k.efficiency(512, 128, "forward", precision="fp8")) == pytest.approx(348 / 1979, rel=1e-6)
    assert float(k.efficiency(8448, 128, "forward", precision="fp8")) == pytest.approx(974 / 1979, rel=1e-6)


def test_transferred_tables_are_named():
    assert kernel_transfer("H100-SXM") is None and kernel_transfer("MI300X") is None
    for gpu in ("H20", "L40S", "MI325X", "GB200", "B200"):
        assert kernel_transfer(gpu)


def test_a_causal_ratio_never_mixes_two_gpus_runs():
    """H100 has no causal backward curve; H200's 2026 one over H100's 2024 non-causal one made causal faster
    than non-causal. H100 borrows its own forward ratio (below 1: Fig. 5c/5d); H200 reads its own causal
    backward, which at 32k NVIDIA measured slightly above its non-causal one (581 against 572)."""
    h100 = attention_kernel("cudnn", "H100-SXM")
    for seq in (2048, 16384, 44_776):
        assert float(h100.efficiency(seq, 128, "backward", causal=True)) < float(h100.efficiency(seq, 128, "backward"))
    assert float(attention_kernel("cudnn", "H200").efficiency(16384, 128, "backward", causal=True)) == pytest.approx(579 / 989)

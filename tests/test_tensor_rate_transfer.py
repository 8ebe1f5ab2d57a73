"""H20 reads H100's kernel curves through the tensor-core-rate rule (attention.yaml tensor_rate_transfers)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimators.time.kernels import (
    attention_kernel,
    gemm_efficiency,
    kernel_transfer,
    serial_rate_transfer,
    tensor_rate_ratio,
)

# r = (148 TFLOP/s / 78 SMs) / (989 TFLOP/s / 132 SMs) = 1.897436 / 7.492424 = 0.253245 (BF16, product brief
# and H100 datasheet); FP8: (296 / 78) / (1979 / 132) = 3.794872 / 14.992424 = 0.253119.
R_BF16 = 0.253245
R_FP8 = 0.253119


def test_ratio_is_the_tensor_core_rate_per_sm_from_the_sourced_figures():
    assert tensor_rate_ratio("H20", "bf16") == pytest.approx(R_BF16, rel=1e-5)
    assert tensor_rate_ratio("H20", "fp8") == pytest.approx(R_FP8, rel=1e-5)
    assert "tensor-core rate" in kernel_transfer("H20")  # still a transfer: its ranges stay widened


def test_rule_on_hand_derived_examples():
    # e = 0.60: 1 / (1 + (1/0.6 - 1) x 0.253245) = 1 / (1 + 0.666667 x 0.253245) = 1 / 1.168830 = 0.855556
    # e = 0.75: 1 / (1 + 0.333333 x 0.253245) = 1 / 1.084415 = 0.922156
    assert serial_rate_transfer([0.60, 0.75], R_BF16) == pytest.approx([0.855556, 0.922156], rel=1e-5)


def test_h20_attention_and_gemm_read_h100_through_the_rule():
    # cuDNN forward, head dim 128, 16k, H100 (Shah et al. 2024, Fig. 5c): 595 / 989 = 0.601618;
    # on H20: 0.601618 / (0.601618 + 0.398382 x 0.253245) = 0.601618 / 0.702506 = 0.856389
    h20 = attention_kernel("cudnn", "H20")
    assert float(h20.efficiency(16384, 128, "forward")) == pytest.approx(0.856389, rel=1e-5)
    # cuBLAS 4096^3 BF16 on H100: 0.792 (gemm.yaml); on H20: 0.792 / (0.792 + 0.208 x 0.253245) = 0.792 / 0.844675 = 0.937639
    assert float(gemm_efficiency(4096, 4096, 4096, "H20")) == pytest.approx(0.937639, rel=1e-5)


def test_fp8_attention_uses_the_fp8_peaks():
    # cuDNN FP8 forward, head dim 128, 16k, measured on H200 (cudnn-frontend): 1055 / 1979 = 0.533098;
    # on H20: 0.533098 / (0.533098 + 0.466902 x 0.253119) = 0.533098 / 0.651280 = 0.818539
    fp8 = attention_kernel("cudnn-fp8", "H20", "fp8")
    assert float(fp8.efficiency(16384, 128, "forward", precision="fp8")) == pytest.approx(0.818539, rel=1e-5)


@given(st.floats(0.0, 1.0), st.floats(0.01, 1.0))
def test_rule_never_exceeds_one_nor_lowers_an_efficiency(e, r):
    out = float(serial_rate_transfer(e, r))
    assert e - 1e-12 <= out <= 1.0 + 1e-12


def test_h20_efficiencies_stay_below_one_and_above_h100s_everywhere():
    seq = np.geomspace(256, 131072, 12)
    for direction in ("forward", "backward"):
        for causal in (False, True):
            for dim in (64, 96, 128, 256):
                h20 = attention_kernel("cudnn", "H20").efficiency(seq, dim, direction, causal)
                h100 = attention_kernel("cudnn", "H100-SXM").efficiency(seq, dim, direction, causal)
                assert np.all(h20 <= 1.0) and np.all(h20 >= h100)
    dims = np.array([64, 512, 4096, 65536])
    m, n, k = np.meshgrid(dims, dims, dims)
    assert np.all(gemm_efficiency(m, n, k, "H20") <= 1.0)


def test_h100_h200_h800_are_unchanged():
    for gpu in ("H100-SXM", "H200", "H800"):
        assert tensor_rate_ratio(gpu, "bf16") is None
    # the published figures themselves: H100 595 / 989 (Fig. 5c), H200 702 / 989 (cudnn-frontend), 4096^3 783.3 / 989
    assert float(attention_kernel("cudnn", "H100-SXM").efficiency(16384, 128, "forward")) == pytest.approx(595 / 989)
    assert float(attention_kernel("cudnn", "H200").efficiency(16384, 128, "forward")) == pytest.approx(702 / 989)
    assert float(gemm_efficiency(4096, 4096, 4096, "H100-SXM")) == pytest.approx(0.792)

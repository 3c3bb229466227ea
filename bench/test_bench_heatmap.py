"""2D heatmap kernels (render, decode) and PCK on a training-sized batch of 16 keypoints at 64x64."""
import pytest

from workloads import DEVICES, bench_op, case_params, require_extension

require_extension()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,impl,mode,n", case_params("heatmap"))
def test_heatmap(benchmark, op, impl, mode, n, device):
    bench_op(benchmark, op, impl, mode, n, device)

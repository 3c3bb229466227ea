"""Metric kernels (MPJPE, P-MPJPE, the one-pass pose_errors) against their twins, and for P-MPJPE against
VideoPose3D's formula in numpy and in torch.linalg.svd."""
import pytest

from workloads import DEVICES, bench_op, case_params, require_extension

require_extension()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,impl,mode,n", case_params("metrics"))
def test_metrics(benchmark, op, impl, mode, n, device):
    bench_op(benchmark, op, impl, mode, n, device)

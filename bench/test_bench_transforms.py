"""Pose-transform kernels (fused PoseAug augment pipeline, PoseDA GPA, projection) against their twins."""
import pytest

from workloads import DEVICES, bench_op, case_params, require_extension

require_extension()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,impl,mode,n", case_params("transforms"))
def test_transforms(benchmark, op, impl, mode, n, device):
    bench_op(benchmark, op, impl, mode, n, device)

"""Skeleton kernels (bone vectors, forward kinematics, part-aware KCS) against their eager and compiled twins."""
import pytest

from workloads import DEVICES, bench_op, case_params, require_extension

require_extension()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,impl,mode,n", case_params("skeleton"))
def test_skeleton(benchmark, op, impl, mode, n, device):
    bench_op(benchmark, op, impl, mode, n, device)

import os
import pathlib

import pytest
import torch
from hypothesis import HealthCheck, settings

# CI runs >= 200 examples per property; POSEFAST_HYPOTHESIS=dev for a heavier local run.
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("POSEFAST_HYPOTHESIS", "ci"))

# The suite is many small tensor ops: intra-op threads only add contention on a 2-core machine (up to 45x slower
# ST-GCN forward passes and 10x slower rendering were measured with 2 threads). The kernels' OpenMP is separate.
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
CUDA_SKIP = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(scope="session")
def cmu_dir():
    """The shared CMU mocap folder (read in place, never copied); tests skip when it is absent."""
    candidates = [os.environ.get("POSEFAST_CMU_DIR"), pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu"]
    for c in candidates:
        if c and pathlib.Path(c).is_dir():
            return pathlib.Path(c).resolve()
    pytest.skip("CMU mocap data (../shared/data/cmu) not present")


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test, the previous count restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""posefast._ext, the one door to the kernels: build facts, the driver check's message, the tensor checks every launch
makes, op-named CUDA errors and the POSEFAST_CUDA_SYNC switch (issue 17)."""
import contextlib
import os
import re
import subprocess
import sys
import types

import pytest
import torch

import posefast
from posefast import H36M17, _ext
from posefast.ops._tables import table


def test_build_info_names_the_cuda_runtime_and_the_driver_it_needs():
    info = posefast.build_info()
    if not info["cuda"]:
        assert info["cuda_runtime"] == info["cuda_runtime_linkage"] == info["cuda_min_driver"] == ""
        return
    assert re.fullmatch(r"\d+\.\d+", info["cuda_runtime"])
    assert info["cuda_runtime_linkage"] in ("static", "shared")
    major = info["cuda_runtime"].split(".")[0]
    assert f"CUDA {major}.0 or later" in info["cuda_min_driver"]


def test_build_is_the_variant_ci_asked_for():
    # CI's second run builds the CPU backend from the functors' __CUDA_ARCH__ branches (with FMA) and sets this.
    expected = os.environ.get("POSEFAST_EXPECT_DEVICE_BRANCHES", "0") == "1"
    assert posefast.build_info()["device_branches_on_host"] is expected


def test_min_driver_per_runtime():
    assert _ext.min_driver("13.0") == "a driver supporting CUDA 13.0 or later (Linux >= 580)"
    assert _ext.min_driver("12.8") == "a driver supporting CUDA 12.0 or later (Linux >= 525.60.13)"
    assert _ext.min_driver("14.1") == "a driver supporting CUDA 14.0 or later"
    assert _ext.min_driver("") == ""


def test_driver_problem_is_one_actionable_line():
    assert _ext.cuda_driver_problem(13000, "13.0", "13.0") is None
    assert _ext.cuda_driver_problem(13020, "13.0", "12.8") is None  # minor-version compatibility
    assert _ext.cuda_driver_problem(12090, "12.4", "12.4") is None
    msg = _ext.cuda_driver_problem(12040, "13.0", "12.4")
    assert "\n" not in msg
    assert "CUDA runtime 13.0" in msg and "driver supports CUDA 12.4" in msg and "Linux >= 580" in msg
    assert "torch.version.cuda = 12.4" in msg and "CUDACXX=/usr/local/cuda-12.4/bin/nvcc" in msg
    assert "no NVIDIA driver was found" in _ext.cuda_driver_problem(0, "13.0", "12.4")
    assert "CUDACXX" not in _ext.cuda_driver_problem(12040, "13.0", None)  # nothing to match it to


def _bone_vectors_args(n=2):
    x = torch.randn(n, 17, 3)
    return x, table(H36M17, "parents", x.device), torch.full((n, 16, 3), 7.0)


def test_launch_rejects_a_tensor_from_another_device_before_running():
    x, parents, bones = _bone_vectors_args()
    with pytest.raises(ValueError, match=r"posefast\.bone_vectors_forward: kernel argument parents is a tensor on "
                                         r"meta, but the kernel runs on cpu"):
        _ext.launch("bone_vectors_forward", x, joints=x, parents=parents.to("meta"), bones=bones, N=2, J=17)
    assert (bones == 7.0).all()  # nothing ran


def test_launch_rejects_a_non_contiguous_tensor_before_running():
    x, parents, bones = _bone_vectors_args()
    strided = torch.full((2, 16, 6), 7.0)[..., ::2]
    with pytest.raises(ValueError, match=r"posefast\.bone_vectors_forward: kernel argument bones is not contiguous"):
        _ext.launch("bone_vectors_forward", x, joints=x, parents=parents, bones=strided, N=2, J=17)
    assert (strided == 7.0).all()
    _ext.launch("bone_vectors_forward", x, joints=x, parents=parents, bones=bones, N=2, J=17)
    torch.testing.assert_close(bones, x[:, 1:] - x[:, parents[1:]])


def test_public_op_with_a_cpu_table_for_a_direct_call_is_an_error_not_a_read():
    # torch.ops.posefast.* are callable directly; a non-contiguous table used to be read as if it were contiguous
    x = torch.randn(2, 17, 3, dtype=torch.float64)
    masks = table(H36M17, "part_masks", x.device, x.dtype)
    parents = table(H36M17, "parents", x.device)
    with pytest.raises(ValueError, match=r"kernel argument masks is not contiguous"):
        torch.ops.posefast.part_kcs(x, parents, masks.t().contiguous().t(), True, 1e-6)


def test_cuda_errors_name_the_op_and_hint_at_the_architecture(monkeypatch):
    calls = []

    def failing_kernel(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("posefast CUDA error in kernel launch: no kernel image is available for execution on "
                           "the device")

    fake_c = types.SimpleNamespace(bone_vectors_forward=failing_kernel,
                                   BUILD_INFO={**_ext._C.BUILD_INFO, "cuda_archs": "80-real,90"})
    monkeypatch.setattr(_ext, "_C", fake_c)
    monkeypatch.setattr(_ext, "_device_and_stream", lambda device, op: (1, 1234))
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (11, 0))
    x, parents, bones = _bone_vectors_args()
    with pytest.raises(RuntimeError) as info:
        _ext.launch("bone_vectors_forward", x, joints=x, parents=parents, bones=bones, N=2, J=17)
    msg = str(info.value)
    assert msg.startswith("posefast.bone_vectors_forward: posefast CUDA error in kernel launch: no kernel image")
    assert "machine code for 80-real,90; this GPU is sm_110: rebuild with POSEFAST_CUDA_ARCHS=110" in msg
    assert calls and calls[0] == {"device": 1, "stream": 1234, "dtype": 0, "joints": x.data_ptr(),
                                  "parents": parents.data_ptr(), "bones": bones.data_ptr(), "N": 2, "J": 17}


@pytest.mark.parametrize("value,expected", [("1", True), ("0", False), ("", False), (None, False)])
def test_cuda_sync_switch_is_read_from_the_environment(value, expected):
    env = {k: v for k, v in os.environ.items() if k != "POSEFAST_CUDA_SYNC"}
    if value is not None:
        env["POSEFAST_CUDA_SYNC"] = value
    out = subprocess.run([sys.executable, "-c", "import posefast._ext as e; print(e.CUDA_SYNC)"], env=env,
                         capture_output=True, text=True, check=True, cwd=os.path.dirname(__file__))
    assert out.stdout.strip() == str(expected)

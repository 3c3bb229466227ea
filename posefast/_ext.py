"""Loads the compiled extension and turns tensors into the raw pointers, sizes and stream it takes."""
from __future__ import annotations

import torch

try:
    from posefast import _C
except ImportError as exc:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "posefast's compiled extension (posefast._C) is missing: install the package with `pip install .` "
        "(or build it in place: `cmake -S . -B build/dev && cmake --build build/dev`)"
    ) from exc

_DTYPE_CODES = {torch.float32: 0, torch.float64: 1}


def build_info() -> dict:
    """Facts about the compiled extension: version, cuda, cuda_archs, openmp, torch_linked, max_joints."""
    return dict(_C.BUILD_INFO)


MAX_JOINTS = int(_C.BUILD_INFO["max_joints"])


def _device_and_stream(device: torch.device, op: str) -> tuple[int, int]:
    if device.type == "cpu":
        return 0, 0
    if device.type == "cuda":
        if not _C.BUILD_INFO["cuda"]:
            raise RuntimeError(
                f"posefast.{op}: got a CUDA tensor but this posefast build has no CUDA backend. Reinstall with "
                "nvcc on PATH and POSEFAST_CUDA=ON, move the tensors to the CPU, or use posefast.use_kernels(False) "
                "to run the pure-torch reference ops."
            )
        return 1, torch.cuda.current_stream(device).cuda_stream
    raise RuntimeError(f"posefast.{op}: tensors on device {device} are not supported (cpu or cuda)")


def launch(name: str, device_tensor: torch.Tensor, *args) -> None:
    """Call kernel entry point ``name`` for tensors shaped and placed like ``device_tensor``.

    Tensors in ``args`` become data pointers (they must already be contiguous and on the same device); Python
    numbers pass through. The dtype code is taken from ``device_tensor``.
    """
    device, stream = _device_and_stream(device_tensor.device, name)
    raw = [a.data_ptr() if isinstance(a, torch.Tensor) else a for a in args]
    if device == 1:
        with torch.cuda.device(device_tensor.device):  # kernels launch on the tensors' GPU
            getattr(_C, name)(device, stream, _DTYPE_CODES[device_tensor.dtype], *raw)
    else:
        getattr(_C, name)(device, stream, _DTYPE_CODES[device_tensor.dtype], *raw)

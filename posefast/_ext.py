"""Loads the compiled extension and turns tensors into the raw pointers, sizes and stream it takes."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

_EDITABLE = "pip install -e \".[test,viz]\" from the repository root (the README's Set up)"
_IN_PLACE = "cmake -S . -B build/dev -G Ninja && cmake --build build/dev, then PYTHONPATH=."


def _extension_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in ("_C.*.so", "_C.so", "_C.*.pyd", "_C.pyd") for p in folder.glob(pattern))


def missing_extension_message(package_dir, error: str = "", search_path=None) -> str:
    """What to tell a user whose ``import posefast`` found no loadable ``posefast._C`` in ``package_dir``.

    The common case is a source checkout on ``sys.path`` ahead of the installed package: ``python -m`` and
    ``python -c`` put the working directory first, so from the repository root ``posefast/`` (the sources, with no
    extension unless built there) shadows a non-editable ``pip install .``. Then the message says so and names both.
    """
    package_dir = Path(package_dir).resolve()
    built_here = _extension_files(package_dir)
    if built_here:
        return (f"posefast's compiled extension {built_here[0]} did not load ({error}); rebuild it for this Python "
                f"and torch: {_EDITABLE}")
    installed = []
    for entry in sys.path if search_path is None else search_path:
        other = (Path(entry or ".").resolve() / "posefast")
        if other != package_dir and other.is_dir() and _extension_files(other):
            installed.append(other)
    if installed:
        return (f"posefast was imported from {package_dir}, a folder without the compiled extension, which shadows "
                f"the installed posefast in {installed[0]} (python puts the folder you run from, "
                f"{package_dir.parent}, first on sys.path). Run from another folder, or install this checkout in "
                f"editable mode so that it is the installed package: {_EDITABLE}")
    if (package_dir.parent / "pyproject.toml").is_file() and (package_dir.parent / "csrc").is_dir():
        return (f"posefast's compiled extension (posefast._C) is not built for the source checkout {package_dir}: "
                f"{_EDITABLE} (or build it in place: {_IN_PLACE})")
    return f"posefast's compiled extension (posefast._C) is missing from {package_dir}: reinstall posefast"


try:
    from posefast import _C
except ImportError as exc:
    raise ImportError(missing_extension_message(Path(__file__).parent, str(exc))) from exc

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

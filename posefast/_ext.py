"""Loads the compiled extension and turns tensors into the raw pointers, sizes and stream it takes.

:func:`launch` is the one door to the kernels: it checks that every tensor argument is contiguous and on the
kernel's device (a CPU pointer reaching a CUDA kernel would kill the CUDA context), checks once that the driver can
run this build's CUDA runtime, and names the op in any CUDA error. ``POSEFAST_CUDA_SYNC=1`` in the environment (read
at import) makes every CUDA kernel call wait for its kernel, so a fault during execution is reported by the op that
caused it rather than by a later, unrelated torch call.
"""
from __future__ import annotations

import os
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

#: Oldest Linux driver for each CUDA runtime major version. Minor-version compatibility: a runtime 13.x runs on any
#: driver of the 13.0 family or later (https://docs.nvidia.com/deploy/cuda-compatibility/, "Minor Version
#: Compatibility", table 1).
MIN_LINUX_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580"}

#: Whether every CUDA kernel call waits for its kernel (``POSEFAST_CUDA_SYNC=1``; debugging only, it serialises).
CUDA_SYNC = os.environ.get("POSEFAST_CUDA_SYNC", "0").strip() not in ("", "0")
if CUDA_SYNC and _C.BUILD_INFO["cuda"]:
    _C.set_cuda_sync(True)


def min_driver(runtime: str) -> str:
    """The driver a CUDA runtime such as ``"13.0"`` needs, in words (empty for a build without CUDA)."""
    if not runtime:
        return ""
    major = int(runtime.split(".")[0])
    linux = MIN_LINUX_DRIVER.get(major)
    return f"a driver supporting CUDA {major}.0 or later" + (f" (Linux >= {linux})" if linux else "")


def build_info() -> dict:
    """Facts about the compiled extension.

    ``version``; ``cuda`` (CUDA backend compiled); ``cuda_archs`` (``80-real`` = machine code for that GPU, an
    entry without ``-real`` also carries PTX that newer GPUs compile at first use); ``cuda_runtime`` (the CUDA
    runtime compiled in, e.g. ``"13.0"``), ``cuda_runtime_linkage`` (``"static"``: nothing but the driver needed at
    run time, or ``"shared"``: libcudart.so of that major version), ``cuda_min_driver`` (the NVIDIA driver that
    runtime needs); ``openmp``; ``torch_linked`` (always False: the kernels take raw pointers); ``max_joints``;
    ``device_branches_on_host`` (a test build whose CPU backend runs the GPU code paths); ``cpu_bf16_units`` (the
    CPU's bf16 matrix-unit flags, comma-separated, :func:`cpu_bf16_units`: what ``--precision auto`` uses). The
    CUDA fields are empty strings without CUDA.
    """
    info = dict(_C.BUILD_INFO)
    info["cuda_min_driver"] = min_driver(info["cuda_runtime"])
    info["cpu_bf16_units"] = ",".join(cpu_bf16_units())
    return info


#: CPU flags (Linux /proc/cpuinfo names) of bf16 matrix units: AMX tiles with bf16, and AVX-512 bf16 dot products.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bf16_units(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, ...]:
    """The bf16 matrix-unit flags of :data:`CPU_BF16_FLAGS` this CPU lists (empty where it lists none or the file
    is not there, e.g. off Linux): what ``--precision auto`` decides on for the CPU. torch's own capability string
    says only ``AVX512``, which does not tell whether the bf16 instructions are there."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return ()
    return tuple(flag for flag in CPU_BF16_FLAGS if flag in flags)


MAX_JOINTS = int(_C.BUILD_INFO["max_joints"])


def cuda_driver_problem(driver: int, runtime: str, torch_cuda: str | None) -> str | None:
    """Why a driver supporting CUDA ``driver`` (e.g. 12040; 0 = no driver) cannot run CUDA runtime ``runtime``, in
    one line that says what to do; None when it can."""
    major = int(runtime.split(".")[0])
    if driver >= major * 1000:
        return None
    needs = f"this posefast build's CUDA runtime {runtime} needs {min_driver(runtime)}"
    if not driver:
        return f"{needs}, but no NVIDIA driver was found: install one."
    rebuild = ("rebuild posefast with the CUDA toolkit torch uses"
               + (f" (torch.version.cuda = {torch_cuda}), e.g. `CUDACXX=/usr/local/cuda-{torch_cuda}/bin/nvcc "
                  f"POSEFAST_CUDA=ON pip install --force-reinstall --no-deps .` in the posefast source" if torch_cuda
                  else ""))
    return (f"{needs}, but this machine's driver supports CUDA {driver // 1000}.{driver % 1000 // 10}: {rebuild}, "
            f"or update the driver.")


_driver_checked = [False]


def _check_cuda_driver(op: str) -> None:
    if _driver_checked[0]:
        return
    problem = cuda_driver_problem(_C.cuda_driver_version(), _C.BUILD_INFO["cuda_runtime"], torch.version.cuda)
    if problem:
        raise RuntimeError(f"posefast.{op}: {problem}")
    _driver_checked[0] = True


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
        _check_cuda_driver(op)
        return 1, torch.cuda.current_stream(device).cuda_stream
    raise RuntimeError(f"posefast.{op}: tensors on device {device} are not supported (cpu or cuda)")


def _bad_tensor(op: str, arg: str, t: torch.Tensor, device: torch.device) -> ValueError:
    if t.device != device:
        return ValueError(f"posefast.{op}: kernel argument {arg} is a tensor on {t.device}, but the kernel runs on "
                          f"{device}; a pointer from another device must never reach a kernel")
    return ValueError(f"posefast.{op}: kernel argument {arg} is not contiguous (shape {list(t.shape)}, stride "
                      f"{list(t.stride())}); the kernels read raw row-major memory")


def _cuda_error_hint(message: str, device: torch.device) -> str:
    if "no kernel image" not in message:
        return ""
    major, minor = torch.cuda.get_device_capability(device)
    return (f" (this build has machine code for {_C.BUILD_INFO['cuda_archs']}; this GPU is sm_{major}{minor}: "
            f"rebuild with POSEFAST_CUDA_ARCHS={major}{minor})")


def launch(name: str, device_tensor: torch.Tensor, **args) -> None:
    """Call kernel entry point ``name`` for tensors shaped and placed like ``device_tensor``.

    ``args`` are the entry point's parameters by name (``csrc/ops/<family>.h``; the bindings take them only by
    keyword, so a misspelt, missing or extra name is a TypeError rather than a pointer in the wrong slot). Tensors
    become data pointers; each must be contiguous and on ``device_tensor``'s device (ValueError naming the argument
    otherwise, before anything runs). Python numbers pass through. The dtype code is taken from ``device_tensor``.
    """
    where = device_tensor.device
    device, stream = _device_and_stream(where, name)
    raw = {}
    for arg, a in args.items():
        if isinstance(a, torch.Tensor):
            if a.device != where or not a.is_contiguous():
                raise _bad_tensor(name, arg, a, where)
            raw[arg] = a.data_ptr()
        else:
            raw[arg] = a
    kernel = getattr(_C, name)
    if device == 0:
        kernel(device=device, stream=stream, dtype=_DTYPE_CODES[device_tensor.dtype], **raw)
        return
    try:
        with torch.cuda.device(where):  # kernels launch on the tensors' GPU
            kernel(device=device, stream=stream, dtype=_DTYPE_CODES[device_tensor.dtype], **raw)
    except RuntimeError as exc:
        raise RuntimeError(f"posefast.{name}: {exc}{_cuda_error_hint(str(exc), where)}") from exc

"""Benchmark session set-up: pinned thread counts, and the machine facts written into the benchmark JSON.

Run: ``PYTHONPATH=. pytest bench/ --benchmark-only`` (see bench/NOTES.md for the switches and the full sweep).
"""
import os
import platform
import shlex
import subprocess
import sys

import numpy as np
import torch

from workloads import COMPILE, FULL, IMAGE_BATCHES, POSE_COUNTS, THREADS

_LOAD_AT_START = os.getloadavg()  # machine_info is gathered when the JSON is written, at the end

# Ratios compare like with like: every implementation gets the same number of threads (default 1). posefast's
# OpenMP loops have their own setting, set alongside torch's.
torch.set_num_threads(THREADS)
try:
    from posefast import _C

    _C.set_num_threads(THREADS)
    _POSEFAST_THREADS = _C.get_num_threads()
except ImportError:  # the bench modules skip themselves
    _POSEFAST_THREADS = None


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return fields.get("Model name", "unknown").strip()


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["posefast_bench"] = {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(),
        "posefast_threads": _POSEFAST_THREADS,
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_start": [round(v, 2) for v in _LOAD_AT_START],
        "full_sweep": FULL,
        "pose_counts": list(POSE_COUNTS),
        "image_batches": list(IMAGE_BATCHES),
        "compile_rows": COMPILE,
        "command": " ".join([*(f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items())
                               if k.startswith("POSEFAST_BENCH_") or k == "OMP_NUM_THREADS"),
                             "pytest", *map(shlex.quote, sys.argv[1:])]),
    }


def pytest_benchmark_update_json(config, benchmarks, output_json):
    info = output_json.setdefault("machine_info", {}).setdefault("posefast_bench", {})
    info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]

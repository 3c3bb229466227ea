"""Peak memory of one call of an op, measured in a fresh process: ``python bench/memory_probe.py OP IMPL MODE N``.

Prints one JSON line: ``peak_delta_mb``, the rise of the process's resident-set high-water mark (``VmHWM`` in
``/proc/self/status``) during one call above the resident set just before it, after a warm-up call and a reset of
the high-water mark (``echo 5 > /proc/self/clear_refs``). It counts every page the call touches that was not
already resident: outputs, tensors autograd saves, temporaries, gradients. Inputs and cotangents are resident
before the call and are not counted. tracemalloc cannot see torch's allocations, hence the OS-level counter.

glibc would otherwise keep freed blocks for reuse (after the warm-up the timed call could then run in memory that
is already resident and look free): the parent sets ``MALLOC_MMAP_THRESHOLD_=65536`` so every block of 64 KiB or
more is its own mapping, returned to the OS when freed and mapped again (and counted) when allocated.
"""
from __future__ import annotations

import gc
import json
import os
import re
import sys


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


def _reset_high_water_mark() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def probe(op: str, impl: str, mode: str, n: int) -> dict:
    import torch

    import posefast
    import workloads

    torch.set_num_threads(workloads.THREADS)
    posefast._C.set_num_threads(workloads.THREADS)
    case = workloads.cases()[op]
    run, _ = workloads.make_runner(case, impl, mode, n, "cpu")
    run()  # warm-up (and compilation for impl == "compile")
    run()
    gc.collect()
    _reset_high_water_mark()
    baseline = _status_kb("VmRSS")
    result = run()
    peak = _status_kb("VmHWM")
    del result
    return {"op": op, "impl": impl, "mode": mode, "n": n, "baseline_rss_mb": baseline / 1024,
            "peak_delta_mb": (peak - baseline) / 1024}


def measure(op: str, impl: str, mode: str, n: int, timeout: float = 900.0) -> dict:
    """Run :func:`probe` in a fresh interpreter (its own high-water mark, allocator settings) and return its dict."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, os.path.join(here, "memory_probe.py"), op, impl, mode, str(n)],
                         capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"memory probe {op}/{impl}/{mode}/{n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: memory_probe.py OP IMPL MODE N")
    name, implementation, run_mode, count = sys.argv[1:]
    print(json.dumps(probe(name, implementation, run_mode, int(count))))

"""Peak memory of the fused part-KCS kernel against its eager and compiled twins at 1e5 poses (CPU).

Each measurement runs in a fresh process (``bench/memory_probe.py`` says what is measured and why that way); the
numbers go into the benchmark JSON as ``extra_info`` (``peak_delta_mb``). The time pytest-benchmark records for
these rows is the probe process's wall time and means nothing.
"""
import pytest

from workloads import COMPILE, MEMORY_POSES, MODES, THREADS, require_extension

require_extension()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("impl", ["posefast", "eager", "compile"])
def test_part_kcs_peak_memory(benchmark, impl, mode):
    import memory_probe
    from workloads import cases

    if impl == "compile" and not COMPILE:
        pytest.skip("POSEFAST_BENCH_COMPILE=0")
    case = cases()["part_kcs"]
    benchmark.group = f"memory/part_kcs/{mode}/{MEMORY_POSES} poses/cpu"
    result = benchmark.pedantic(memory_probe.measure, args=("part_kcs", impl, mode, MEMORY_POSES), rounds=1,
                                iterations=1)
    out_mb = MEMORY_POSES * 5 * 15 * 15 * 4 / 2**20  # [n, P=5, B=15, B=15] float32: the output alone
    benchmark.extra_info.update(family="memory", op=case.name, impl=impl, mode=mode, n=MEMORY_POSES, device="cpu",
                                threads=THREADS, peak_delta_mb=round(result["peak_delta_mb"], 1),
                                output_mb=round(out_mb, 1))
    assert result["peak_delta_mb"] >= 0.9 * out_mb, "the probe missed the output itself: the measurement is broken"

#!/usr/bin/env bash
# GPU check: on a machine with a CUDA GPU, build posefast with its CUDA backend, run every CUDA test (the CUDA-vs-CPU
# comparisons and the device-parametrised op tests) and the op benchmarks on cuda with the CPU numbers beside them,
# and write bench/RESULTS-gpu.md. About 5-8 minutes on a 16-core machine (build ~2 min for the GPU's own
# architecture, tests ~1 min, benchmarks ~3-4 min).
#
#   bash bench/gpu_check.sh            # from the repository root, in a Python environment with a CUDA build of torch
#
# It fails loudly (non-zero exit, a line starting with "GPU CHECK FAILED") when there is no usable GPU, when the
# build has no CUDA backend, and when any CUDA test fails, errors *or is skipped*: a skipped CUDA test here means a
# GPU code path went unchecked. Switches: POSEFAST_GPU_CHECK_ARCHS (default "native": the GPU in this machine),
# POSEFAST_GPU_CHECK_SIZES (default 1024,100000 poses), POSEFAST_BENCH_COMPILE (default 0: inductor on CUDA needs
# triton and minutes of compiling), POSEFAST_GPU_CHECK_BENCH=0 to stop after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
fail() { echo "GPU CHECK FAILED: $*" >&2; exit 1; }
step() { echo "== [$(( $(date +%s) - start )) s] $*"; }

python - <<'PY' || fail "no usable CUDA GPU in this Python environment (torch.cuda.is_available() is False or torch has no CUDA)"
import torch
assert torch.version.cuda and torch.cuda.is_available(), "no CUDA"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU: {torch.cuda.get_device_name(0)}")
PY
command -v nvcc >/dev/null 2>&1 || fail "nvcc is not on PATH: the CUDA backend cannot be built"

step "build (CUDA ON, archs ${POSEFAST_GPU_CHECK_ARCHS:-native})"
cmake -S . -B build/gpu-check -G Ninja -DPOSEFAST_CUDA=ON \
  -DPOSEFAST_CUDA_ARCHS="${POSEFAST_GPU_CHECK_ARCHS:-native}" \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" > build/gpu-check.cmake.log 2>&1 \
  || { tail -30 build/gpu-check.cmake.log >&2; fail "cmake configure failed (log: build/gpu-check.cmake.log)"; }
cmake --build build/gpu-check > build/gpu-check.build.log 2>&1 \
  || { tail -40 build/gpu-check.build.log >&2; fail "the CUDA build failed (log: build/gpu-check.build.log)"; }
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python - <<'PY' || fail "the freshly built extension has no CUDA backend or cannot run a kernel on the GPU"
import torch, posefast
info = posefast.build_info()
print("build_info:", info)
assert info["cuda"], "build without CUDA"
x = torch.randn(4, 17, 3, device="cuda")
assert torch.isfinite(posefast.p_mpjpe(x, x + 0.01)).all()
PY

step "CUDA tests"
mkdir -p build
junit=build/gpu-check-tests.xml
# every test that runs on the GPU: the CUDA-vs-CPU comparisons and the [cuda] instances of the device-parametrised
# tests (the CPU-only "no CUDA backend" error test is left out: this build has one)
pytest tests -q -p no:cacheprovider -rs -k "cuda and not without_cuda_build" --junitxml="$junit" \
  || fail "CUDA tests failed (see the pytest output above)"
python - "$junit" <<'PY' || fail "CUDA tests were skipped or none ran (see above): a GPU code path went unchecked"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
total = sum(int(s.get("tests", 0)) for s in suites)
bad = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("skipped", "failures", "errors")}
for case in root.iter("testcase"):
    if case.find("skipped") is not None:
        print("skipped:", case.get("classname"), case.get("name"), case.find("skipped").get("message"))
print(f"{total} CUDA tests, {bad}")
sys.exit(0 if total > 0 and not any(bad.values()) else 1)
PY

if [ "${POSEFAST_GPU_CHECK_BENCH:-1}" = "0" ]; then
  step "done (benchmarks skipped: POSEFAST_GPU_CHECK_BENCH=0)"
  exit 0
fi
step "benchmarks on cpu and cuda"
json=build/gpu-check-bench.json
POSEFAST_BENCH_SIZES="${POSEFAST_GPU_CHECK_SIZES:-1024,100000}" POSEFAST_BENCH_COMPILE="${POSEFAST_BENCH_COMPILE:-0}" \
POSEFAST_BENCH_DISC_BATCHES=1024 OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}" \
POSEFAST_BENCH_THREADS="${POSEFAST_BENCH_THREADS:-$(nproc)}" \
  timeout 900 pytest bench/test_bench_skeleton.py bench/test_bench_metrics.py bench/test_bench_transforms.py \
  bench/test_bench_heatmap.py bench/test_bench_discriminator.py --benchmark-only -q -p no:cacheprovider \
  --benchmark-min-rounds=5 --benchmark-max-time=0.5 --benchmark-json="$json" \
  || fail "a benchmark failed (an implementation disagreed with posefast, or a kernel raised)"
python - "$json" <<'PY' || fail "no cuda benchmark rows were recorded"
import json, sys
rows = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if (b.get("extra_info") or {}).get("device") == "cuda"]
print(f"{len(rows)} cuda benchmark rows")
sys.exit(0 if rows else 1)
PY
python bench/report.py "$json" --out bench/RESULTS-gpu.md
step "done: bench/RESULTS-gpu.md written; commit it with the tests' result above"

#!/usr/bin/env bash
# The benchmark run behind bench/RESULTS.md, in one command (from the repository root, after an in-place build):
#
#   bash bench/run_all.sh            # ~30-40 min on an idle 2-core machine; the load average goes into the report
#
# Full sweep (256, 1024, 1e4, 1e5 poses; 32 and 256 images; compile rows at 1e4-1e5), 2 threads for torch and for
# posefast's OpenMP loops (POSEFAST_BENCH_THREADS=1 for one: on a machine other work keeps busy, two-thread timings
# are set by preemption, not by the code), every suite in bench/, then the markdown report. Extra pytest arguments
# are passed on (e.g. `-k p_mpjpe` for a partial run; RESULTS.md is then partial too).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
json=build/bench/RESULTS.json
echo "load before the run: $(cat /proc/loadavg)"
threads="${POSEFAST_BENCH_THREADS:-2}"
OMP_NUM_THREADS="$threads" POSEFAST_BENCH_THREADS="$threads" POSEFAST_BENCH_FULL=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" \
  pytest bench/ --benchmark-only --benchmark-disable-gc --benchmark-min-rounds=7 --benchmark-json="$json" \
  -q -p no:cacheprovider "$@"
python bench/report.py "$json" --out bench/RESULTS.md
echo "load after the run: $(cat /proc/loadavg); bench/RESULTS.md written from $json"

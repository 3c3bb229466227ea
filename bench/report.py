"""Markdown tables of medians and ratios from a pytest-benchmark JSON file.

    python bench/report.py RESULTS.json [--out bench/RESULTS.md]

Ratios are ``median(alternative) / median(posefast)`` within one benchmark group (same op, mode, size and device,
same run), so > 1 means posefast is faster; for training steps ``median(twins) / median(kernels)``. The speed goals
of issues 9 and 15 are checked first (CPU, float32).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

FAMILIES = ("skeleton", "transforms", "metrics", "heatmap")
ALTERNATIVES = ("eager", "compile", "numpy", "torch-svd", "full-eager", "full-compile", "floor")
MODE_ORDER = {"fwd": 0, "fwd+bwd": 1}

# (label, op, mode, alternative, target ratio, poses); CPU
GOALS = [
    ("P-MPJPE fwd vs numpy (VideoPose3D formula)", "p_mpjpe", "fwd", "numpy", 50.0, 100_000),
    ("P-MPJPE fwd vs torch.linalg.svd formula", "p_mpjpe", "fwd", "torch-svd", 25.0, 100_000),
    ("P-MPJPE fwd+bwd vs torch.linalg.svd formula (no goal)", "p_mpjpe", "fwd+bwd", "torch-svd", None, 100_000),
    ("compact part-KCS fwd+bwd vs eager full-layout twin (+ gather)", "part_kcs_compact", "fwd+bwd", "full-eager",
     10.0, 10_000),
    ("compact part-KCS fwd+bwd vs eager full-layout twin (+ gather)", "part_kcs_compact", "fwd+bwd", "full-eager",
     10.0, 100_000),
    ("compact part-KCS fwd+bwd vs its torch.compile twin", "part_kcs_compact", "fwd+bwd", "compile", 2.0, 10_000),
    ("compact part-KCS fwd+bwd vs its torch.compile twin", "part_kcs_compact", "fwd+bwd", "compile", 2.0, 100_000),
    ("compact part-KCS fwd+bwd vs compiled full-layout twin (+ gather)", "part_kcs_compact", "fwd+bwd",
     "full-compile", 2.0, 10_000),
    ("compact part-KCS fwd+bwd vs compiled full-layout twin (+ gather)", "part_kcs_compact", "fwd+bwd",
     "full-compile", 2.0, 100_000),
    ("part-KCS (full layout) fwd+bwd vs eager twin (issue 9)", "part_kcs", "fwd+bwd", "eager", 5.0, 100_000),
    ("augment pipeline fwd+bwd vs eager twin (issue 9)", "augment_pipeline", "fwd+bwd", "eager", 3.0, 100_000),
    ("one-pass pose_errors vs eager twin (issue 9)", "pose_errors", "fwd", "eager", 3.0, 100_000),
]
TRAIN_GOAL = 1.3
PARITY_POSES = (10_000, 100_000)  # every op at least as fast as its torch.compile twin (or both at the floor)
OVERHEAD_POSES = (256, 1_024)  # every op at least as fast as its eager twin at training batch sizes
AT_FLOOR = 1.25  # posefast within 25 % of the measured floor counts as "at the floor"


def fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.3g}×" if r < 100 else f"{r:.0f}×"


def load(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text())
    if "benchmarks" not in data:
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' key)")
    return data


def _rows(data: dict) -> list[dict]:
    rows = []
    for b in data["benchmarks"]:
        info = b.get("extra_info") or {}
        if "impl" not in info:  # a benchmark this suite did not write: ignore it
            continue
        rows.append({**info, "group": b["group"], "median": b["stats"]["median"], "iqr": b["stats"]["iqr"],
                     "rounds": b["stats"]["rounds"]})
    return rows


def machine_section(data: dict, path: str) -> list[str]:
    mi = data.get("machine_info", {})
    pb = mi.get("posefast_bench", {})
    ci = data.get("commit_info", {})
    start, end = pb.get("load_average_start"), pb.get("load_average_end")
    lines = ["## Machine and run", ""]
    lines.append(f"- CPU: {pb.get('cpu_model', mi.get('cpu', {}).get('brand_raw', '?'))}, "
                 f"{pb.get('logical_cpus', '?')} logical CPUs; {mi.get('system', '?')} {mi.get('release', '')}")
    if pb.get("cuda_device"):
        lines.append(f"- GPU: {pb['cuda_device']}")
    lines.append(f"- Python {mi.get('python_version', '?')}, torch {pb.get('torch', '?')}, "
                 f"numpy {pb.get('numpy', '?')}")
    lines.append(f"- Threads: torch {pb.get('torch_threads', '?')}, posefast OpenMP {pb.get('posefast_threads', '?')}"
                 f" (OMP_NUM_THREADS={pb.get('omp_num_threads_env')})")
    if start:
        lines.append(f"- Load average (1, 5, 15 min): {start} at the start, {end} at the end of the run")
    loads = sorted(r["load_1min"] for r in _rows(data) if "load_1min" in r)
    if loads:
        lines.append(f"- 1-min load average sampled before each benchmark: min {loads[0]:.2f}, median "
                     f"{loads[len(loads) // 2]:.2f}, max {loads[-1]:.2f}")
    lines.append(f"- Date: {data.get('datetime', '?')}; commit {str(ci.get('id', '?'))[:12]}"
                 f"{' (uncommitted changes)' if ci.get('dirty') else ''}")
    if pb.get("command"):
        lines.append(f"- Command: `{pb['command']}`")
    lines.append(f"- Source: `{path}`")
    return lines + [""]


def _by_group(rows: list[dict]) -> dict[str, dict[str, dict]]:
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        groups[r["group"]][r["impl"]] = r
    return groups


def op_tables(rows: list[dict]) -> list[str]:
    lines = []
    groups = _by_group([r for r in rows if r.get("family") in FAMILIES])
    for family in FAMILIES:
        fam = [(g, impls) for g, impls in groups.items() if next(iter(impls.values()))["family"] == family]
        if not fam:
            continue
        present = [a for a in ALTERNATIVES if any(a in impls for _, impls in fam)]
        lines += [f"### {family}", "",
                  "| op | pass | batch | device | posefast | " + " | ".join(present) + " |",
                  "|---|---|---:|---|---:|" + "---:|" * len(present)]

        def key(item):
            info = next(iter(item[1].values()))
            return info["op"], MODE_ORDER.get(info["mode"], 9), info["n"], info["device"]

        for _, impls in sorted(fam, key=key):
            info = next(iter(impls.values()))
            base = impls.get("posefast")
            cells = []
            for alt in present:
                r = impls.get(alt)
                if r is None:
                    cells.append("n/a")
                elif base is None:
                    cells.append(fmt_time(r["median"]))
                else:
                    cells.append(f"{fmt_time(r['median'])} ({fmt_ratio(r['median'] / base['median'])})")
            lines.append(f"| {info['op']} | {info['mode']} | {info['n']:,} {info.get('unit', '')} | {info['device']} | "
                         f"{fmt_time(base['median']) if base else 'n/a'} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def memory_table(rows: list[dict]) -> list[str]:
    mem = [r for r in rows if r.get("family") == "memory"]
    if not mem:
        return []
    lines = ["### Peak memory of part-KCS (CPU)", "",
             "Rise of the process's resident-set high-water mark during one call, above the resident set before it "
             "(fresh process per row; see `bench/memory_probe.py`).", "",
             "| pass | poses | impl | peak rise | × output size | vs posefast |", "|---|---:|---|---:|---:|---:|"]
    base = {r["mode"]: r["peak_delta_mb"] for r in mem if r["impl"] == "posefast"}
    order = {"posefast": 0, "eager": 1, "compile": 2}
    for r in sorted(mem, key=lambda r: (MODE_ORDER.get(r["mode"], 9), order.get(r["impl"], 9))):
        ratio = r["peak_delta_mb"] / base[r["mode"]] if base.get(r["mode"]) else None
        lines.append(f"| {r['mode']} | {r['n']:,} | {r['impl']} | {r['peak_delta_mb']:.0f} MB | "
                     f"{r['peak_delta_mb'] / r['output_mb']:.2f} | {fmt_ratio(ratio)} |")
    return lines + [""]


def training_table(rows: list[dict]) -> list[str]:
    train = [r for r in rows if r.get("family") == "train"]
    if not train:
        return []
    lines = ["### Training steps (kernels and twins timed in alternating pairs, each from the same state)", "",
             "| step | device | rounds | kernels: time/step | it/s | twins: time/step | it/s | kernels speed-up |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(train, key=lambda r: r["group"]):
        name = r["group"].split("/", 1)[1].rsplit("/", 1)[0]
        k = r["kernels_median_s"] / r["steps_per_call"]
        t = r["twins_median_s"] / r["steps_per_call"]
        lines.append(f"| {name} | {r['device']} | {r['rounds']} | {fmt_time(k)} | {1 / k:.3g} | {fmt_time(t)} | "
                     f"{1 / t:.3g} | {fmt_ratio(r['ratio_median'])} |")
    lines += ["", "Speed-up: the median over rounds of (twins time / kernels time) of the pair timed in that round.",
              ""]
    return lines


def _index(rows: list[dict]) -> dict:
    return {(r["op"], r["mode"], r["n"], r["device"], r["impl"]): r for r in rows if r.get("family") in FAMILIES}


def goals_table(rows: list[dict]) -> list[str]:
    lines = ["## Speed goals (CPU, float32, ratios within one run)", "",
             "| goal | poses | measured | target | |", "|---|---:|---:|---:|---|"]
    index = _index(rows)
    for label, op, mode, alt, target, n in GOALS:
        base = index.get((op, mode, n, "cpu", "posefast"))
        other = index.get((op, mode, n, "cpu", alt))
        ratio = other["median"] / base["median"] if base and other else None
        verdict = "not measured in this run" if ratio is None else (
            "" if target is None else ("met" if ratio >= target else "**missed**"))
        lines.append(f"| {label} | {n:,} | {fmt_ratio(ratio)} | {fmt_ratio(target) if target else '—'} | {verdict} |")
    for r in sorted((r for r in rows if r.get("family") == "train" and r.get("device") == "cpu"),
                    key=lambda r: r["group"]):
        if "poseaug_step" not in r["group"]:
            continue
        ratio = r["ratio_median"]
        verdict = "met" if ratio >= TRAIN_GOAL else "**missed**"
        label = "PoseAug training step, kernels vs twins (" + r["group"].split("/")[2] + ")"
        lines.append(f"| {label} | — | {fmt_ratio(ratio)} | {fmt_ratio(TRAIN_GOAL)} | {verdict} |")
    lines.append("")
    p = index.get(("p_mpjpe", "fwd", 100_000, "cpu", "posefast"))
    floor = index.get(("p_mpjpe", "fwd", 100_000, "cpu", "floor"))
    if p and floor:
        lines += [f"P-MPJPE forward at 1e5 poses: {p['median'] / 1e5 * 1e9:.1f} ns/pose; the read floor (both inputs "
                  f"read once, the output written) {floor['median'] / 1e5 * 1e9:.1f} ns/pose "
                  f"({p['median'] / floor['median']:.2g}× the floor).", ""]
    return lines


def parity_tables(rows: list[dict]) -> list[str]:
    """Every op against its compile twin at 1e4-1e5 poses, and against its eager twin at 256-1024 poses."""
    index = _index(rows)
    ops = sorted({(r["op"], r["mode"]) for r in rows if r.get("family") in FAMILIES and r.get("unit") == "poses"},
                 key=lambda om: (om[0], MODE_ORDER.get(om[1], 9)))
    lines = ["## No op behind its twins (CPU)", "",
             "torch.compile twin at 1e4 and 1e5 poses: ratio compile / posefast (>= 1 met; below 1 still met when "
             f"posefast is within {AT_FLOOR:.3g}× the floor, i.e. both sit at the memory floor). Eager twin at "
             "256 and 1024 poses (training batches): ratio eager / posefast.", "",
             "| op | pass | " + " | ".join(f"compile {n:,}" for n in PARITY_POSES) + " | "
             + " | ".join(f"eager {n:,}" for n in OVERHEAD_POSES) + " |",
             "|---|---|" + "---:|" * (len(PARITY_POSES) + len(OVERHEAD_POSES))]
    missed = []
    for op, mode in ops:
        cells = []
        for n, alt in [(n, "compile") for n in PARITY_POSES] + [(n, "eager") for n in OVERHEAD_POSES]:
            base, other = index.get((op, mode, n, "cpu", "posefast")), index.get((op, mode, n, "cpu", alt))
            if not base or not other:
                cells.append("—")
                continue
            ratio = other["median"] / base["median"]
            floor = index.get((op, mode, n, "cpu", "floor"))
            at_floor = floor is not None and base["median"] <= AT_FLOOR * floor["median"]
            cell = fmt_ratio(ratio)
            if ratio < 1 and at_floor:
                cell += f" (at floor: {base['median'] / floor['median']:.2g}×)"
            elif ratio < 1:
                cell = f"**{cell}**"
                missed.append(f"{op} {mode} {n:,} vs {alt}")
            cells.append(cell)
        lines.append(f"| {op} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", "Behind with posefast off the floor: " + (", ".join(missed) if missed else "none") + ".", ""]
    return lines


def discriminator_table(rows: list[dict]) -> list[str]:
    disc = [r for r in rows if r.get("family") == "disc"]
    if not disc:
        return []
    lines = ["### PoseAug's discriminator input step: KCS + first layer, fwd+bwd (joints and layer gradients)", "",
             "| batch | device | posefast (compact op + compact layer) | previous (full op + gather) | PoseAug's path "
             "(eager KCS + 225-wide layer) | PoseAug's path compiled |", "|---:|---|---:|---:|---:|---:|"]
    groups = _by_group(disc)
    for _, impls in sorted(groups.items(), key=lambda kv: (next(iter(kv[1].values()))["n"], kv[0])):
        info = next(iter(impls.values()))
        base = impls.get("posefast")
        cells = []
        for impl in ("posefast", "previous", "poseaug", "poseaug-compile"):
            r = impls.get(impl)
            if r is None:
                cells.append("n/a")
            elif impl == "posefast" or base is None:
                cells.append(fmt_time(r["median"]))
            else:
                cells.append(f"{fmt_time(r['median'])} ({fmt_ratio(r['median'] / base['median'])})")
        lines.append(f"| {info['n']:,} | {info['device']} | " + " | ".join(cells) + " |")
    return lines + [""]


def render(data: dict, source: str) -> str:
    rows = _rows(data)
    if not rows:
        raise ValueError(f"{source}: no posefast benchmark rows (was it written by `pytest bench/ --benchmark-json`?)")
    pb = data.get("machine_info", {}).get("posefast_bench", {})
    lines = ["# posefast benchmarks", ""]
    cpus = pb.get("logical_cpus") or 1
    loads = sorted(r["load_1min"] for r in rows if "load_1min" in r)
    if loads and loads[-1] > 1.25 * cpus:
        lines += [f"> **The machine was loaded during this run**: the 1-minute load average, sampled before each "
                  f"benchmark, ranged {loads[0]:.2f}–{loads[-1]:.2f} (median {loads[len(loads) // 2]:.2f}) on {cpus} "
                  "logical CPUs shared with other work. Absolute times are inflated and noisy; ratios within a group "
                  "are more robust but not exact.", ""]
    elif loads:
        threads = pb.get("torch_threads", "?")
        lines += [f"> Shared machine: the 1-minute load average, sampled before each benchmark, ranged "
                  f"{loads[0]:.2f}–{loads[-1]:.2f} (median {loads[len(loads) // 2]:.2f}) on {cpus} logical CPUs; the "
                  f"benchmarks ran on {threads} thread(s).", ""]
    lines += ["Medians; in parentheses the ratio to posefast's median in the same group (> 1: posefast is faster). "
              "posefast = the public op on the kernels (argument checks included); eager = its pure-torch twin "
              "called directly; compile = that twin under torch.compile (inductor, compiled before timing); "
              "floor = only the memory traffic (inputs read, outputs and gradients allocated and written, see "
              "`bench/workloads.py`). float32 throughout.", ""]
    lines += goals_table(rows)
    lines += parity_tables(rows)
    lines += ["Where the time goes, the floors and the design: `bench/NOTES.md`.", ""]
    lines += (["## Results", ""] + op_tables(rows) + discriminator_table(rows) + memory_table(rows)
              + training_table(rows))
    lines += machine_section(data, source)
    return "\n".join(lines)


PEER_HEADING = "## The released PoseAug as a peer"


def peer_section(text: str) -> str:
    """The peer section of a RESULTS.md (from its heading to the next ``## `` heading), or ""."""
    start = text.find(PEER_HEADING)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(PEER_HEADING))
    return text[start:] if end < 0 else text[start:end + 1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="pytest-benchmark JSON (--benchmark-json)")
    parser.add_argument("--out", help="write the markdown here instead of stdout")
    args = parser.parse_args(argv)
    text = render(load(args.json), args.json)
    if args.out:
        out = Path(args.out)
        peer = peer_section(out.read_text()) if out.exists() else ""
        if peer:  # written by bench/peer_poseaug.py, not by this suite: carried over
            head, sep, tail = text.partition("\n## Machine and run")
            text = head.rstrip("\n") + "\n\n" + peer.rstrip("\n") + "\n" + sep + tail
        out.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

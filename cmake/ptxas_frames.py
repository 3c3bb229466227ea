"""Per-thread stack frames of the CUDA kernels, from ptxas's ``-v`` output: recorded at build time, reported after it.

The driver reserves (largest stack frame launched) x (resident threads) of GPU memory, outside torch's allocator,
and keeps it; a kilobyte frame is a gigabyte on a large GPU. So CI holds every kernel to a bound (issue 17).

    python cmake/ptxas_frames.py wrap LOGDIR -- NVCC_COMMAND...
        CMake's CUDA compiler launcher: runs one compile, saves ptxas's -v lines to LOGDIR/<object>.ptxas and passes
        every other line of the compiler's stderr through (the -v lines would flood the build log).
    python cmake/ptxas_frames.py report LOGDIR [--max-stack BYTES] [--max-joints J] [--allow REGEX=REASON]... [--enforce]
        One row per kernel: stack bytes (the entry's cumulative stack, callees included; the largest over the
        architectures compiled), registers and spill bytes, float and double side by side. Rows above the bound are
        marked; with --enforce the exit status is 1 when any is, or when an --allow no longer matches a kernel over
        the bound (a stale waiver must be removed, so the bound cannot quietly stop covering a kernel).

The bound is for skeletons of at most ``--max-joints`` joints: a functor instantiated for a larger joint capacity (an
integer template argument above that, e.g. ``Foo<float, 64>``) is reported but not held to it.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import shutil
import subprocess
import sys

_ENTRY = re.compile(r"ptxas info\s*: Compiling entry function '([^']+)' for '(sm_\w+)'")
_PROPS = re.compile(r"ptxas info\s*: Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"ptxas info\s*: Used (\d+) registers")
_CUMULATIVE = re.compile(r"(\d+) bytes cumulative stack size")
_PTXAS_LINE = re.compile(r"^(ptxas info\s*:|\s+\d+ bytes stack frame)")


# ---- wrap: the compiler launcher ---------------------------------------------------------------------------------
def wrap(log_dir: pathlib.Path, command: list[str]) -> int:
    proc = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    kept, ptxas = [], []
    for line in proc.stderr.splitlines(keepends=True):
        (ptxas if _PTXAS_LINE.match(line) else kept).append(line)
    obj = command[command.index("-o") + 1] if "-o" in command else "unnamed.o"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / (pathlib.Path(obj).name + ".ptxas")).write_text("".join(ptxas))
    sys.stderr.write("".join(kept))
    return proc.returncode


# ---- report ------------------------------------------------------------------------------------------------------
def parse(text: str) -> dict:
    """{mangled entry name: {arch: {"stack", "regs", "spill"}}} from ptxas -v output."""
    kernels: dict = {}
    entry = arch = None
    props_of = None
    for line in text.splitlines():
        m = _ENTRY.search(line)
        if m:
            entry, arch = m.group(1), m.group(2)
            kernels.setdefault(entry, {})[arch] = {"stack": 0, "regs": 0, "spill": 0}
            continue
        m = _PROPS.search(line)
        if m:
            props_of = m.group(1)
            continue
        m = _FRAME.search(line)
        if m and entry is not None and props_of == entry:
            rec = kernels[entry][arch]
            rec["stack"] = int(m.group(1))
            rec["spill"] = int(m.group(2)) + int(m.group(3))
            continue
        m = _USED.search(line)
        if m and entry is not None:
            rec = kernels[entry][arch]
            rec["regs"] = int(m.group(1))
            c = _CUMULATIVE.search(line)
            if c:  # callees' frames included: what the launch reserves
                rec["stack"] = max(rec["stack"], int(c.group(1)))
            entry = None  # the "Used" line closes the entry
    return kernels


def demangle(names: list[str]) -> dict:
    tool = shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return dict(zip(names, out)) if len(out) == len(names) else {n: n for n in names}


def functor_of(demangled: str) -> str:
    """``posefast::Foo<double>`` from ``void posefast::cuda::grid_stride_kernel<posefast::Foo<double>>(long, ...)``."""
    m = re.search(r"grid_stride_kernel<(.*)>\s*\(", demangled)
    return (m.group(1) if m else demangled).replace("posefast::", "").replace(" ", "")


def split_functor(functor: str) -> tuple[str, str, int]:
    """(name with its non-type arguments, "float"/"double"/"", joint capacity or 0) of ``Foo<double,64l>``."""
    m = re.fullmatch(r"(\w+)<(.*)>", functor)
    if not m:
        return functor, "", 0
    args = [re.sub(r"^(-?\d+)[a-z]*$", r"\1", a.strip()) for a in m.group(2).split(",")]  # 64l -> 64
    dtype = next((a for a in args if a in ("float", "double")), "")
    ints = [int(a) for a in args if re.fullmatch(r"-?\d+", a)]
    rest = [a for a in args if a != dtype]
    name = m.group(1) + (f"<{', '.join(rest)}>" if rest else "")
    return name, dtype, max(ints, default=0)


def collect(log_dir: pathlib.Path) -> tuple[dict, list[str]]:
    kernels: dict = {}
    for log in sorted(log_dir.glob("*.ptxas")):
        for entry, per_arch in parse(log.read_text()).items():
            kernels.setdefault(entry, {}).update(per_arch)
    names = demangle(sorted(kernels))
    rows: dict = {}
    archs = sorted({a for per_arch in kernels.values() for a in per_arch}, key=lambda a: int(re.sub(r"\D", "", a)))
    for entry, per_arch in kernels.items():
        name, dtype, capacity = split_functor(functor_of(names[entry]))
        rows.setdefault(name, {"capacity": capacity})[dtype or "-"] = {
            "stack": max(r["stack"] for r in per_arch.values()),
            "regs": max(r["regs"] for r in per_arch.values()),
            "spill": max(r["spill"] for r in per_arch.values()),
        }
    return rows, archs


def report(log_dir: pathlib.Path, max_stack: int, max_joints: int, allow: list[str], enforce: bool) -> int:
    rows, archs = collect(log_dir)
    if not rows:
        print(f"ptxas frame report: no ptxas -v output under {log_dir} (a CUDA build records it there)")
        return 1 if enforce else 0
    waivers = []
    for item in allow:
        pattern, _, reason = item.partition("=")
        waivers.append((re.compile(pattern), reason or "no reason given", [False]))

    def cell(rec, key):
        return "-" if rec is None else str(rec[key])

    print(f"CUDA kernels: per-thread stack bytes (ptxas -v, largest over {', '.join(archs)}); "
          f"bound {max_stack} B for skeletons of <= {max_joints} joints")
    header = f"{'kernel':34s} {'stack f32':>9s} {'stack f64':>9s} {'regs f32/f64':>13s} {'spill f32/f64':>14s}  status"
    print(header)
    print("-" * len(header))
    over, waived = [], []
    for name in sorted(rows):
        row = rows[name]
        recs = [row.get("float"), row.get("double")] if ("float" in row or "double" in row) else [row.get("-"), None]
        worst = max(r["stack"] for r in recs if r is not None)
        status = "ok"
        if worst > max_stack:
            if row["capacity"] > max_joints:
                status = f"capacity {row['capacity']} > {max_joints} joints: not bound"
            else:
                hit = next((w for w in waivers if w[0].search(name)), None)
                if hit:
                    hit[2][0] = True
                    status = f"OVER, waived: {hit[1]}"
                    waived.append(name)
                else:
                    status = "OVER"
                    over.append(name)
        print(f"{name:34s} {cell(recs[0], 'stack'):>9s} {cell(recs[1], 'stack'):>9s} "
              f"{cell(recs[0], 'regs') + '/' + cell(recs[1], 'regs'):>13s} "
              f"{cell(recs[0], 'spill') + '/' + cell(recs[1], 'spill'):>14s}  {status}")
    stale = [w for w in waivers if not w[2][0]]
    verdict = "FAIL" if enforce else "not enforced here"
    if over:
        print(f"{verdict}: {len(over)} kernel(s) above {max_stack} bytes of stack: {', '.join(over)}")
    for pattern, reason, _ in stale:
        print(f"{verdict}: waiver --allow '{pattern.pattern}' ({reason}) matches no kernel over the bound: remove it")
    if not over and not stale:
        print(f"ok: every bound kernel within {max_stack} bytes" + (f" ({len(waived)} waived)" if waived else ""))
    return 1 if (enforce and (over or stale)) else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["wrap"]:
        if len(argv) < 4 or argv[2] != "--":
            sys.exit("usage: ptxas_frames.py wrap LOGDIR -- COMMAND...")
        return wrap(pathlib.Path(argv[1]), argv[3:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    rep = sub.add_parser("report", help="print the per-kernel table (and check it)")
    rep.add_argument("log_dir", type=pathlib.Path)
    rep.add_argument("--max-stack", type=int, default=256, help="bound in bytes (default 256)")
    rep.add_argument("--max-joints", type=int, default=17, help="joint count the bound is for (default 17)")
    rep.add_argument("--allow", action="append", default=[], metavar="REGEX=REASON",
                     help="waive kernels whose name matches REGEX (must match a kernel over the bound)")
    rep.add_argument("--enforce", action="store_true", help="exit 1 on a kernel over the bound or a stale waiver")
    args = parser.parse_args(argv)
    return report(args.log_dir, args.max_stack, args.max_joints, args.allow, args.enforce)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

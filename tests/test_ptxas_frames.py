"""cmake/ptxas_frames.py: the build's per-kernel stack-frame record and the check CI runs on it (issue 17)."""
import importlib.util
import pathlib
import shutil
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "cmake" / "ptxas_frames.py"
spec = importlib.util.spec_from_file_location("ptxas_frames", SCRIPT)
frames = importlib.util.module_from_spec(spec)
spec.loader.exec_module(frames)

needs_cxxfilt = pytest.mark.skipif(shutil.which("c++filt") is None, reason="c++filt (binutils) not found")

KERNEL = "_ZN8posefast4cuda18grid_stride_kernelINS_{n}{name}I{t}EEEEvlT_"


def entry(name, t, arch, frame, regs, cumulative=None):
    mangled = KERNEL.format(n=len(name), name=name, t=t)
    used = f"ptxas info    : Used {regs} registers, used 0 barriers, "
    used += f"{cumulative} bytes cumulative stack size, " if cumulative is not None else ""
    return (f"ptxas info    : Compiling entry function '{mangled}' for '{arch}'\n"
            f"ptxas info    : Function properties for {mangled}\n"
            f"    {frame} bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
            f"{used}400 bytes cmem[0]\n"
            f"ptxas info    : Compile time = 12.0 ms\n")


CALLEE = ("ptxas info    : Function properties for __internal_trig_reduction_slowpathd\n"
          "    40 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n")


def write_logs(tmp_path, text):
    (tmp_path / "a.cu.o.ptxas").write_text(text)
    return tmp_path


def test_parse_takes_each_entrys_own_lines_and_the_cumulative_stack():
    text = (entry("Small", "f", "sm_80", 0, 30) + CALLEE + entry("Big", "d", "sm_80", 32, 90, cumulative=72)
            + entry("Big", "d", "sm_90", 48, 96, cumulative=48))
    kernels = frames.parse(text)
    big = kernels[KERNEL.format(n=3, name="Big", t="d")]
    assert big == {"sm_80": {"stack": 72, "regs": 90, "spill": 0}, "sm_90": {"stack": 48, "regs": 96, "spill": 0}}
    assert kernels[KERNEL.format(n=5, name="Small", t="f")]["sm_80"]["stack"] == 0  # the callee's 40 is not its


@needs_cxxfilt
def test_report_marks_and_enforces_the_bound(tmp_path, capsys):
    logs = write_logs(tmp_path, entry("Fine", "f", "sm_80", 0, 30) + entry("Fine", "d", "sm_80", 40, 40)
                      + entry("Huge", "f", "sm_80", 768, 40) + entry("Huge", "d", "sm_80", 1536, 60))
    assert frames.report(logs, 256, 17, [], enforce=False) == 0
    out = capsys.readouterr().out
    assert "Fine" in out and "Huge" in out
    huge = next(line for line in out.splitlines() if line.startswith("Huge"))
    assert huge.split()[1:3] == ["768", "1536"] and huge.endswith("OVER")
    assert frames.report(logs, 256, 17, [], enforce=True) == 1
    assert frames.report(logs, 2048, 17, [], enforce=True) == 0


@needs_cxxfilt
def test_waivers_must_match_a_kernel_over_the_bound(tmp_path, capsys):
    logs = write_logs(tmp_path, entry("Huge", "f", "sm_80", 768, 40) + entry("Fine", "f", "sm_80", 0, 30))
    assert frames.report(logs, 256, 17, ["^Huge$=redesign pending"], enforce=True) == 0
    assert "OVER, waived: redesign pending" in capsys.readouterr().out
    assert frames.report(logs, 256, 17, ["^Huge$=x", "^Fine$=not needed"], enforce=True) == 1
    assert "waiver --allow '^Fine$' (not needed) matches no kernel over the bound: remove it" in capsys.readouterr().out


@needs_cxxfilt
def test_instantiations_for_more_joints_than_the_bound_is_for_are_reported_not_bound(tmp_path, capsys):
    big = "_ZN8posefast4cuda18grid_stride_kernelINS_3FooIfLl64EEEEEvlT_"
    small = "_ZN8posefast4cuda18grid_stride_kernelINS_3FooIfLl17EEEEEvlT_"
    text = "".join(f"ptxas info    : Compiling entry function '{m}' for 'sm_80'\n"
                   f"ptxas info    : Function properties for {m}\n"
                   f"    {frame} bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                   f"ptxas info    : Used 40 registers, used 0 barriers, 400 bytes cmem[0]\n"
                   for m, frame in ((big, 768), (small, 204)))
    logs = write_logs(tmp_path, text)
    assert frames.report(logs, 256, 17, [], enforce=True) == 0
    out = capsys.readouterr().out
    assert "Foo<64>" in out and "capacity 64 > 17 joints: not bound" in out
    assert frames.report(logs, 256, 80, [], enforce=True) == 1  # the same 768 bytes, bound at 80 joints


def test_no_record_is_a_failure_when_enforced(tmp_path):
    assert frames.report(tmp_path, 256, 17, [], enforce=False) == 0
    assert frames.report(tmp_path, 256, 17, [], enforce=True) == 1


def test_wrap_records_ptxas_lines_and_passes_the_rest_through(tmp_path, capfd):
    compiler = ("import sys; "
                "sys.stderr.write(\"ptxas info    : Compiling entry function 'k' for 'sm_80'\\n\"); "
                "sys.stderr.write('    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\\n'); "
                "sys.stderr.write('file.cu(3): warning: something\\n'); sys.exit(3)")
    rc = frames.wrap(tmp_path / "logs", [sys.executable, "-c", compiler, "-o", "dir/x.cu.o"])
    assert rc == 3
    err = capfd.readouterr().err
    assert "warning: something" in err and "ptxas info" not in err and "stack frame" not in err
    log = (tmp_path / "logs" / "x.cu.o.ptxas").read_text()
    assert "Compiling entry function 'k'" in log and "8 bytes stack frame" in log and "warning" not in log

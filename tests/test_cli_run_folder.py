"""A second run never silently destroys the first: a folder holding a run needs --resume or --overwrite."""
import pytest
from cli_testing import TINY, one_error_line, train

from posefast.errors import UsageError
from posefast.engine.run_folder import prepare_run_folder, run_files

RUN = ["source-only", *TINY, "--epochs", "1"]


def _snapshot(out):
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_second_run_refuses_then_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "r8"
    rc, _, err = train([*RUN, "--out", out], capsys)
    assert rc == 0, err
    assert "device: cpu (auto:" in err or "device: cuda (auto:" in err  # --device defaults to auto and says so
    before = _snapshot(out)
    assert {"checkpoint.pt", "metrics.json", "metrics.jsonl"} <= set(before)

    rc, _, err = train([*RUN, "--out", out, "--seed", "1"], capsys)  # no --resume: refused, nothing touched
    line = one_error_line(err)
    assert rc == 2 and "--resume" in line and "--overwrite" in line and str(out) in line
    assert _snapshot(out) == before

    rc, _, err = train([*RUN, "--out", out, "--resume"], capsys)  # a finished run resumes to its own result
    assert rc == 0, err
    assert (out / "metrics.json").read_bytes() == before["metrics.json"]

    (out / "notes.txt").write_text("mine")
    rc, _, err = train([*RUN, "--out", out, "--overwrite", "--seed", "1"], capsys)
    assert rc == 0, err
    assert (out / "metrics.json").read_bytes() != before["metrics.json"]  # a new run (another seed)
    assert (out / "notes.txt").read_text() == "mine"  # what posefast did not write stays


def test_run_folder_rules(tmp_path):
    assert run_files(tmp_path / "absent") == [] and run_files(tmp_path) == []
    (tmp_path / "samples.png").write_bytes(b"x")  # a plot alone is not a run
    assert run_files(tmp_path) == []
    stage = tmp_path / "compare" / "poseaug"
    stage.mkdir(parents=True)
    (stage / "metrics.jsonl").write_text("{}\n")
    (tmp_path / "compare" / "summary.md").write_text("|")
    found = run_files(tmp_path / "compare")
    assert sorted(p.name for p in found) == ["metrics.jsonl", "summary.md"]
    with pytest.raises(UsageError, match="--resume.*--overwrite"):
        prepare_run_folder(tmp_path / "compare", resume=False, overwrite=False)
    with pytest.raises(UsageError, match="choose one"):
        prepare_run_folder(tmp_path / "compare", resume=True, overwrite=True)
    prepare_run_folder(tmp_path / "compare", resume=False, overwrite=True, is_main=False)  # other ranks delete nothing
    assert stage.is_dir()
    prepare_run_folder(tmp_path / "compare", resume=False, overwrite=True)
    assert not stage.exists() and run_files(tmp_path / "compare") == []


def test_resume_refuses_other_settings_and_names_them(tmp_path, capsys):
    """A resumed run continues the run it finds: settings that change what it computes (the learning rate, the
    method's own section) are refused, by name and value; where it runs (device, checkpoint cadence) and other
    methods' settings may differ."""
    out = tmp_path / "pa"
    run = ["poseaug", *TINY, "--epochs", "1", "--out", out]
    rc, _, err = train(run, capsys)
    assert rc == 0, err
    before = _snapshot(out)

    rc, _, err = train([*run, "--resume", "--lr", "0.01", "--set", "poseaug.weight_feedback_ba=0"], capsys)
    line = one_error_line(err)
    assert rc == 2 and "different settings" in line and str(out / "checkpoint.pt") in line
    assert "lr 0.001 (now 0.01)" in line and "poseaug.weight_feedback_ba" in line
    assert _snapshot(out) == before  # refused before anything was written

    rc, _, err = train([*run, "--resume", "--set", "checkpoint_every=1", "--set", "poseda.weight_reg=30",
                        "--device", "cpu"], capsys)
    assert rc == 0, err
    assert (out / "metrics.json").read_bytes() == before["metrics.json"]

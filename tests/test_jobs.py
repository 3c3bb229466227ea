"""The one job runner (posefast.engine.jobs) and the typed settings (posefast.engine.config): a toy job described in a
few lines runs in one or two processes with the same results, writes its stage folders and summaries, and resumes;
settings are checked when loaded, lists are lists, and YAML goes in and out."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from posefast.cli.config import TrainConfig, apply_overrides, dump_yaml, load_yaml
from posefast.engine.config import section, sections
from posefast.engine.jobs import Job, Summary, parse_list, read_records, run_job, stage_dir

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class ToyJob(Job):
    """A third job in a dozen lines: stages that write a number and a record, a table of their sums."""

    name = "toy"

    def __init__(self, out, seeds, jobs):
        self.out, self.seeds, self.variants, self.workers_setting = Path(out), seeds, ["a", "bb"], jobs

    def _write(self, seed, stage, value):
        import numpy as np

        folder = stage_dir(self.out, seed, stage)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "records.npz", value=np.array([value]))
        return {"value": value}

    def pretrain(self, seed):
        return self._write(seed, "pretrain", float(seed))

    def adapt(self, seed, variant):
        base = read_records(stage_dir(self.out, seed, "pretrain") / "records.npz")["value"][0]
        return self._write(seed, variant, float(base) + len(variant))

    def progress(self, seed, variant, result):
        return f"{variant or 'pretrain'}: {result['value']:.0f}"

    def summarize(self, results):
        sums = {v: sum(results[s][v]["value"] for s in self.seeds) for v in self.variants}
        table = "\n".join(f"| {v} | {x:.0f} |" for v, x in sums.items()) + "\n"
        return [Summary(self.out, {"sums": sums, "seconds": self.seconds()}, table)]


def test_a_toy_job_runs_the_same_in_one_or_two_processes(tmp_path, capsys):
    out = {}
    for jobs in (1, 2):
        summary = run_job(ToyJob(tmp_path / f"j{jobs}", [3, 0], jobs))
        out[jobs] = summary["sums"]
        folder = tmp_path / f"j{jobs}"
        assert (folder / "summary.md").read_text() == "| a | 5 |\n| bb | 7 |\n"
        assert json.loads((folder / "summary.json").read_text())["sums"] == {"a": 5.0, "bb": 7.0}
        assert (folder / "seed3" / "bb" / "records.npz").is_file()
    assert out[1] == out[2]
    printed = capsys.readouterr().out
    assert "[toy] seed 3 pretrain: 3" in printed and "[toy] seed 0 bb: 2" in printed


def test_list_settings_name_the_key_the_value_and_what_is_allowed():
    assert parse_list(" a, b ", "x.names", ("a", "b")) == ["a", "b"]
    assert parse_list(["b"], "x.names", ("a", "b")) == ["b"]
    with pytest.raises(ValueError, match=r"x\.names: expected distinct comma-separated names from \['a', 'b'\], "
                                         r"got 'a,c'"):
        parse_list("a,c", "x.names", ("a", "b"))
    with pytest.raises(ValueError, match="x.names"):
        parse_list("a,a", "x.names", ("a", "b"))
    with pytest.raises(ValueError, match="x.names"):
        parse_list("a,", "x.names", allow_empty_items=True)
    assert parse_list("16,16", "w", item=int, distinct=False) == [16, 16]


def test_settings_are_checked_when_loaded():
    cfg = TrainConfig()
    assert cfg.seeds == [0, 1, 2] and cfg.compare.methods[0] == "source-only"
    apply_overrides(cfg, {"seeds": "4, 5", "compare": {"methods": "source-only,gpa"},
                          "multilevel": {"discriminator_widths": "8,8", "variants": ["source-only", "image"]}}, "t")
    assert cfg.seeds == [4, 5] and cfg.compare.methods == ["source-only", "gpa"]
    assert cfg.multilevel.discriminator_widths == [8, 8] and cfg.multilevel.variants == ["source-only", "image"]
    bad = [({"poseaug": {"feedback": "papers"}}, r"t\.poseaug: 'feedback' expects one of \['released', 'paper'\], "
                                                 r"got 'papers'"),
           ({"poseda": {"anchor": "x"}}, r"'anchor' expects one of \['target2d-local'"),
           ({"compare": {"methods": "gpa,poseda"}}, r"compare\.methods: must include 'source-only'"),
           ({"compare": {"methods": "source-only,bogus"}}, r"compare\.methods: expected distinct .* got "
                                                           r"'source-only,bogus'"),
           ({"compare": {"adapt_epochs": 0}}, r"compare\.adapt_epochs: expected a positive number of epochs, got 0"),
           ({"multilevel": {"image_size": 48}}, r"multilevel\.image_size: expected a positive multiple of 32"),
           ({"multilevel": {"levels": "image,colour"}}, r"multilevel\.levels: .*got 'image,colour'"),
           ({"seeds": "0,-1"}, r"seeds: expected distinct comma-separated non-negative integers"),
           ({"multilevel": {"nope": 1}}, r"unknown setting 'nope'")]
    for values, message in bad:
        with pytest.raises(ValueError, match=message):
            apply_overrides(TrainConfig(), values, "t")


def test_yaml_in_and_out_and_every_shipped_config_loads():
    cfg = TrainConfig()
    apply_overrides(cfg, {"seeds": "1,2", "poseaug": {"feedback": "paper"}}, "t")
    again = TrainConfig.from_dict(yaml.safe_load(dump_yaml(cfg)))
    assert again.to_dict() == cfg.to_dict() and again.seeds == [1, 2]
    for path in sorted(CONFIGS.glob("*.yaml")):
        TrainConfig.from_dict(load_yaml(path))


def test_sections_are_registered_by_their_owners():
    assert {"poseaug", "poseda", "multilevel", "compare"} <= set(sections())

    @dataclass
    class Other:
        x: int = 1

    with pytest.raises(ValueError, match="already registered"):
        section("poseaug")(Other)
    with pytest.raises(ValueError, match="top-level setting"):
        section("epochs")(Other)


@pytest.mark.parametrize("argv", [
    ["--epochs", "3", "--lr", "0.01", "--seed", "4", "--set", "compare.methods=source-only,gpa"],
    ["--factors", "--set", "compare.adapt_epochs=2"],
    ["multilevel", "--epochs", "9", "--batch-size", "16", "--target", "lsp:/data/lsp",
     "--set", "multilevel.pretrain_epochs=2", "--set", "multilevel.discriminator_widths=8,4"],
    ["poseaug", "--epochs", "2", "--set", "poseaug.feedback=paper"],
])
def test_a_run_folders_config_yaml_reads_back_to_the_same_settings(tmp_path, argv):
    """config.yaml holds the resolved settings: the command line's shorthands (compare's --epochs, multilevel's
    --target) are already applied, so --config reads it back to exactly the run's settings."""
    from posefast.cli.train import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(argv))
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    method = [a for a in argv[:1] if not a.startswith("-")]
    again = config_from_args(build_parser().parse_args([*method, "--config", str(path)]))
    assert again.to_dict() == cfg.to_dict()

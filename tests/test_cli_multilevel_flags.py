"""Generic ``python -m posefast.train`` settings under multilevel/adain mean what they say or are refused."""
import pytest

from posefast.errors import UsageError
from posefast.methods.multilevel.job import resolve_schedule
from posefast.cli.train import build_parser, config_from_args


def _cfg(*argv):
    return config_from_args(build_parser().parse_args([str(a) for a in argv]))


def test_epochs_and_batch_size_mean_what_they_say(tmp_path):
    assert resolve_schedule(_cfg("multilevel"))["epochs"] == 6  # the 2D default when nothing is given
    pre = ["--set", "multilevel.pretrain_epochs=6"]
    # --epochs N: each variant's N epochs after the shared pretraining (as compare's --epochs), whatever N is
    assert resolve_schedule(_cfg("multilevel", "--epochs", "8", *pre))["epochs"] == 6 + 8
    assert resolve_schedule(_cfg("multilevel", "--epochs", "20"))["epochs"] == 4 + 20
    assert resolve_schedule(_cfg("multilevel", "--epochs", "1"))["epochs"] == 4 + 1
    with pytest.raises(ValueError, match="pretrain_epochs: expected an int in \\[0, epochs=3\\).*pretrain_epochs=1"):
        resolve_schedule(_cfg("multilevel", "--set", "multilevel.default_epochs=3"))  # the total, set directly
    assert resolve_schedule(_cfg("multilevel", "--batch-size", "256"))["batch_size"] == 256
    assert resolve_schedule(_cfg("multilevel", "--set", "epochs=8", "--lr", "0.01", *pre)) == {
        "epochs": 6 + 8, "batch_size": 32, "lr": 0.01}
    yaml = tmp_path / "c.yaml"
    yaml.write_text("epochs: 8\nbatch_size: 16\nmultilevel:\n  pretrain_epochs: 4\n")
    assert resolve_schedule(_cfg("multilevel", "--config", yaml)) == {"epochs": 4 + 8, "batch_size": 16, "lr": 1e-3}


def test_target_and_source_apply_to_multilevel():
    cfg = _cfg("multilevel", "--target", "coco:/data/person_keypoints.json", "--source", "synthetic")
    assert cfg.multilevel.target == "coco:/data/person_keypoints.json" and cfg.multilevel.source == "synthetic"
    assert _cfg("adain", "--target", "lsp:/data/lsp").multilevel.target == "lsp:/data/lsp"


@pytest.mark.parametrize("argv,match", [
    (["multilevel", "--source", "synthetic:h36m"], "--source: multilevel learns from the rendered"),
    (["multilevel", "--backbone", "videopose"], "--backbone: not used by multilevel"),
    (["multilevel", "--set", "n_source=100"], "n_source: not used by multilevel.*multilevel.n_source"),
    (["multilevel", "--flip-test"], "--flip-test: not used by multilevel"),
    (["adain", "--epochs", "3"], "--epochs: not used by adain.*adain_steps"),
    (["adain", "--batch-size", "3"], "--batch-size: not used by adain.*adain_batch_size"),
    (["adain", "--lr", "0.1"], "--lr: not used by adain.*adain_lr"),
])
def test_settings_that_mean_nothing_are_refused(argv, match):
    with pytest.raises(UsageError, match=match):
        _cfg(*argv)

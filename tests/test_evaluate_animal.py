"""``python -m posefast.evaluate`` on animal files: a multilevel stage checkpoint of an animal layout scored on a
COCO-format animal file and on a DeepLabCut project (with --keypoint-map), per keypoint group."""
import json

import numpy as np
import pytest
import torch
from cli_testing import evaluate, one_error_line
from PIL import Image

from posefast.cli.config import TrainConfig
from posefast.engine import checkpoint as ckpt
from posefast.methods.multilevel.stage import build_pose_net
from posefast.skeleton import MOUSE7, TIGDOG18


def _stage_checkpoint(path, skeleton):
    ml = TrainConfig().multilevel
    ml.image_size, ml.deconv_channels = 32, 8
    torch.manual_seed(0)
    net = build_pose_net(ml, skeleton.num_joints, imagenet=False)
    settings = {"multilevel": {**dict(vars(ml)), "skeleton": skeleton.name}, "seed": 0, "steps_per_epoch": 0,
                "epochs": 2, "batch_size": 4, "lr": 1e-3}
    ckpt.save_atomic({"stage": {"student": net.state_dict(), "teacher": None}, "settings": settings}, path)
    return path


def _image(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)


def test_coco_animal_file_per_group(tmp_path, capsys):
    ck = _stage_checkpoint(tmp_path / "checkpoint.pt", TIGDOG18)
    _image(tmp_path / "a.jpg")
    kps = []
    for i in range(18):
        kps += [10 + 3 * i, 10 + 2 * i, 2]
    (tmp_path / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "keypoints": kps, "category_id": 1}],
        "categories": [{"id": 1, "keypoints": list(TIGDOG18.joint_names)}]}))
    rc, out, err = evaluate(["--checkpoint", ck, "--data", f"coco:{tmp_path / 'ann.json'}", "--device", "cpu",
                             "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    m = json.loads((tmp_path / "m.json").read_text())
    assert set(m["per_group"]) == set(TIGDOG18.keypoint_groups) and len(m["per_joint"]) == 18
    assert "per-group PCK@0.05" in out and "all 18 tigdog18 keypoints" in out


def test_dlc_project_with_a_keypoint_map(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    ck = _stage_checkpoint(tmp_path / "checkpoint.pt", MOUSE7)
    root = tmp_path / "lp"
    root.mkdir()
    names = ["f0.png", "f1.png"]
    for nm in names:
        _image(root / nm)
    cols = pd.MultiIndex.from_product([["me"], ["snout", "tailroot", "obstacle"], ["x", "y"]],
                                      names=["scorer", "bodyparts", "coords"])
    pd.DataFrame([[20, 20, 60, 30, 5, 5], [22, 21, 61, 33, np.nan, np.nan]], index=names,
                 columns=cols).to_csv(root / "CollectedData.csv")
    argv = ["--checkpoint", ck, "--data", f"dlc:{root}", "--device", "cpu", "--json", tmp_path / "m.json"]
    rc, out, err = evaluate(argv + ["--keypoint-map", "snout=nose,tailroot=tail_base"], capsys)
    assert rc == 0, err
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n"] == 2 and set(m["per_group"]) == set(MOUSE7.keypoint_groups)
    rc, out, err = evaluate(argv + ["--keypoint-map", "snout=beak"], capsys)
    assert rc == 2 and "not a keypoint of mouse7" in one_error_line(err)
    rc, out, err = evaluate(argv[:4] + ["--data", "lsp:/x"], capsys)
    assert rc == 2 and "expected synthetic-animal" in one_error_line(err)


def test_the_runs_own_dlc_file_however_its_path_is_spelled(tmp_path, capsys, monkeypatch):
    """The run's own labelled file is recognised by where it is, not by how its path was written: scored on the
    run's test split through the run's keypoint map and crop rule (the mouse task's: fixed box, top half)."""
    pd = pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "lp"
    root.mkdir()
    names = ["f0.png", "f1.png", "f2.png"]
    for nm in names:
        _image(root / nm)
    cols = pd.MultiIndex.from_product([["me"], ["snout", "tailroot"], ["x", "y"]],
                                      names=["scorer", "bodyparts", "coords"])
    pd.DataFrame([[20, 10, 60, 20], [22, 11, 61, 23], [25, 12, 50, 21]], index=names,
                 columns=cols).to_csv(root / "CollectedData.csv")
    ck = _stage_checkpoint(tmp_path / "checkpoint.pt", MOUSE7)
    state = torch.load(ck, weights_only=True)
    state["settings"]["multilevel"]["task"] = "mouse"
    animal = dict(vars(TrainConfig().animal))
    animal.update(n_target=2, n_test=2, target=f"dlc:{root}", test="dlc:lp",
                  keypoint_map="snout=nose,tailroot=tail_base")
    state["settings"]["animal"] = animal
    ckpt.save_atomic(state, ck)
    scored = {}
    for spelling in ("dlc:lp", f"dlc:{root}", "dlc:./lp/"):
        rc, out, err = evaluate(["--checkpoint", ck, "--data", spelling, "--device", "cpu", "--json",
                                 tmp_path / "m.json"], capsys)
        assert rc == 0, err
        scored[spelling] = json.loads((tmp_path / "m.json").read_text())
        assert scored[spelling]["split"] == "the run's target test split" and scored[spelling]["n"] == 2
    assert len({m["pck"] for m in scored.values()}) == 1
    rc, out, err = evaluate(["--checkpoint", ck, "--data", f"dlc:{root}", "--split", "all", "--device", "cpu",
                             "--json", tmp_path / "a.json"], capsys)
    assert rc == 0, err  # all of it, through the run's own keypoint map (none given)
    assert json.loads((tmp_path / "a.json").read_text())["n"] == 3
    rc, out, err = evaluate(["--checkpoint", ck, "--data", f"dlc:{root}", "--keypoint-map", "snout=nose"], capsys)
    assert rc == 2 and "the run's own target" in one_error_line(err)

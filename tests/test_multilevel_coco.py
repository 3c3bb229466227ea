"""Users' own 2D data for the 2D method: a COCO keypoint file (real JPEG crops rendered by our renderer) as
``multilevel --target coco:<json>``, and ``posefast.evaluation.lifting`` of the run's stage checkpoints on coco: and lsp: data."""
import json

import numpy as np
import pytest
from cli_testing import evaluate, one_error_line, read_json, train
from PIL import Image

from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS
from posefast.data.image2d import BODY16_NAMES, make_domain

ML = ["--epochs", "2", "--batch-size", "4", "--seeds", "0", "--no-plots", "--quiet", *[
    a for kv in ("image_size=32", "n_source=8", "n_target=12", "n_test=8", "pretrain_epochs=1", "deconv_channels=8",
                 "discriminator_widths=4,4", "adain_width=0.0625", "adain_steps=2", "adain_batch_size=2",
                 "ema_alpha=0.9", "variants=source-only,multilevel") for a in ("--set", f"multilevel.{kv}")]]


def write_coco(root, n=20, seed=0, subfolder="images"):
    """``n`` rendered 64 px person crops as JPEGs and a COCO-17 keypoint JSON (limbs from the renderer's labels;
    nose, eyes and ears unlabelled) with each person's box the whole image."""
    crops = make_domain("target", n, 64, seed)
    (root / subfolder).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        name = f"person_{i:03d}.jpg"
        pixels = (crops.images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(root / subfolder / name, quality=95)
        images.append({"id": i, "file_name": name, "width": 64, "height": 64})
        kps = []
        for joint in LAYOUT_JOINTS["coco"]:
            if joint in BODY16_NAMES:
                k = BODY16_NAMES.index(joint)
                x, y = crops.keypoints[i, k].tolist()
                kps += [x, y, 2 if crops.visible[i, k] else 1]
            else:
                kps += [0, 0, 0]
        annotations.append({"id": i, "image_id": i, "category_id": 1, "keypoints": kps, "bbox": [0, 0, 64, 64],
                            "iscrowd": 0})
    doc = {"images": images, "annotations": annotations,
           "categories": [{"id": 1, "name": "person", "keypoints": list(LAYOUT_JOINTS["coco"])}]}
    (root / "person_keypoints.json").write_text(json.dumps(doc))
    return root / "person_keypoints.json"


@pytest.fixture(scope="module")
def coco_run(tmp_path_factory):
    import contextlib
    import io

    from posefast.cli.common import run_cli
    from posefast.cli.train import main

    root = tmp_path_factory.mktemp("coco")
    ann = write_coco(root / "data")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        rc = run_cli(main, ["multilevel", "--target", f"coco:{ann}", "--out", str(root / "run"), *ML])
    assert rc == 0, err.getvalue()
    return root, ann, err.getvalue()


def test_coco_target_trains_and_says_which_keypoints_it_lacks(coco_run):
    root, ann, log = coco_run
    assert "upper_neck, head_top not in the file: invisible" in log and "pelvis, thorax built from" in log
    summary = read_json(root / "run" / "summary.json")
    assert summary["target"] == f"coco:{ann}" and set(summary["methods"]) == {"source-only", "multilevel"}
    assert read_json(root / "run" / "config.json")["schedule"]["epochs"] == 1 + 2  # --epochs: after the shared pretraining


@pytest.mark.parametrize("variant", ["multilevel", "source-only"])
def test_evaluate_stage_on_its_own_coco_target(coco_run, variant, capsys):
    root, ann, _ = coco_run
    out = root / f"e-{variant}.json"
    rc, stdout, err = evaluate(["--checkpoint", root / "run" / "seed0" / variant / "checkpoint.pt", "--data", f"coco:{ann}",
                                "--json", out], capsys)
    assert rc == 0, err
    got, run = read_json(out), read_json(root / "run" / "seed0" / variant / "metrics.json")["target"]
    assert got["n"] == 8 and got["split"] == "the run's target test split"
    assert got["pck"] == pytest.approx(run["pck"], abs=1e-9, nan_ok=True)
    assert set(got["per_joint"]) >= {"left_wrist", "right_ankle"} and "PCK@0.05" in stdout


def test_evaluate_on_other_coco_and_lsp_data(coco_run, tmp_path, capsys):
    from test_data2d_loaders import write_lsp

    root, _, _ = coco_run
    ckpt = root / "run" / "seed0" / "multilevel" / "checkpoint.pt"
    other = write_coco(tmp_path / "other", n=5, seed=7, subfolder=".")  # images next to the JSON
    rc, stdout, err = evaluate(["--checkpoint", ckpt, "--data", f"coco:{other}", "--json", tmp_path / "o.json"],
                               capsys)
    assert rc == 0, err
    assert read_json(tmp_path / "o.json")["n"] == 5 and "all of it" in stdout
    write_lsp(tmp_path / "lsp", n=3)
    rc, _, err = evaluate(["--checkpoint", ckpt, "--data", f"lsp:{tmp_path / 'lsp'}", "--json", tmp_path / "l.json"],
                          capsys)
    assert rc == 0, err
    assert read_json(tmp_path / "l.json")["n"] == 3


def test_coco_errors_are_one_line(coco_run, tmp_path, capsys):
    root, ann, _ = coco_run
    broken = write_coco(tmp_path / "broken", n=20)
    (tmp_path / "broken" / "images" / "person_004.jpg").unlink()
    rc, _, err = train(["multilevel", "--target", f"coco:{broken}", "--out", tmp_path / "r", *ML], capsys)
    line = one_error_line(err)
    assert rc == 2 and "'person_004.jpg' not found" in line and "images" in line
    rc, _, err = train(["multilevel", "--target", f"coco:{ann}", "--out", tmp_path / "r2", *ML,
                        "--set", "multilevel.n_target=15"], capsys)  # 15 + 8 > 20 crops: the splits would overlap
    assert rc == 2 and "must not overlap" in one_error_line(err)
    rc, _, err = evaluate(["--checkpoint", root / "run" / "seed0" / "multilevel" / "checkpoint.pt", "--data", "coco"], capsys)
    assert rc == 2 and "--data" in one_error_line(err)

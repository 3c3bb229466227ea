"""``python -m posefast.lift`` end to end: the 2D projection of known poses, written as an npz in the lifter's layout,
as COCO-17 keypoints and as OpenPose BODY_25 files, lifts back to 3D within the lifter's own test error; missing
joints are filled by the documented rule and flagged."""
import json

import numpy as np
import pytest
from cli_testing import TINY, call

from posefast.geometry import normalize_screen, project
from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS
from posefast.data.detections import BODY25_NAMES, Detections, fill_missing, to_skeleton
from posefast.evaluation.lifting import evaluate_lifter, load_eval_data
from posefast.engine.inference import load_lifter
from posefast.cli.lift import main as lift_main
from posefast.skeleton import H36M16

LIMBS = {"right_hip": "RHip", "right_knee": "RKnee", "right_ankle": "RAnkle", "left_hip": "LHip",
         "left_knee": "LKnee", "left_ankle": "LAnkle", "left_shoulder": "LShoulder", "left_elbow": "LElbow",
         "left_wrist": "LWrist", "right_shoulder": "RShoulder", "right_elbow": "RElbow", "right_wrist": "RWrist"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from posefast.cli.common import run_cli
    from posefast.cli.train import main

    out = tmp_path_factory.mktemp("lift") / "run"
    assert run_cli(main, ["source-only", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def known(run):
    """Known camera-frame h36m16 poses (the run's target test split) whose pelvis, thorax and spine are the
    midpoints the COCO rules build, so only perspective separates the COCO path from the exact one."""
    _, skel, cfg = load_lifter(run / "checkpoint.pt")
    data, _ = load_eval_data("synthetic:3dhp", cfg)
    X = data.joints_3d.astype(np.float64).copy()
    j = H36M16.joint
    X[:, j("Pelvis")] = 0.5 * (X[:, j("LHip")] + X[:, j("RHip")])
    X[:, j("Thorax")] = 0.5 * (X[:, j("LShoulder")] + X[:, j("RShoulder")])
    X[:, j("Spine")] = 0.5 * (X[:, j("Pelvis")] + X[:, j("Thorax")])
    return {"joints_3d": X, "joints_2d": project(X, data.camera).numpy(),
            "image_size": data.image_size.astype(np.float64)}


def _coco17(uv):
    """COCO-17 keypoints of h36m16 pixels: limbs copied, the ears 6 px either side of the head (mid-ears = head),
    nose and eyes near the head (the h36m16 rules do not read them)."""
    j = H36M16.joint
    head = uv[:, j("Head")]
    named = {c: uv[:, j(h)] for c, h in LIMBS.items()}
    named.update(left_ear=head + [6, 0], right_ear=head - [6, 0], nose=head + [0, 8], left_eye=head + [3, -2],
                 right_eye=head - [3, 2])
    return np.stack([named[n] for n in LAYOUT_JOINTS["coco"]], 1)


def _lift(argv, capsys):
    rc, out, err = call(lift_main, argv, capsys)
    assert rc == 0, err
    return out


def _mpjpe_mm(pred, joints_3d):
    return float(np.linalg.norm(pred - (joints_3d - joints_3d[:, :1]), axis=-1).mean() * 1000)


def test_npz_in_the_lifters_layout_is_exact(run, known, tmp_path, capsys):
    lifter, skel, _ = load_lifter(run / "checkpoint.pt")
    np.savez(tmp_path / "in.npz", joints_2d=known["joints_2d"], image_size=known["image_size"])
    text = _lift(["--checkpoint", run / "checkpoint.pt", "--input", tmp_path / "in.npz", "--out", tmp_path / "o.npz",
                  "--plot", tmp_path / "o.png"], capsys)
    got = np.load(tmp_path / "o.npz")
    assert got["joints_3d"].shape == known["joints_3d"].shape and str(got["skeleton"]) == "h36m16"
    assert not got["filled"].any() and "lifted 256 of 256" in text and (tmp_path / "o.png").stat().st_size > 0
    import torch

    size = known["image_size"]
    split = {"joints_2d_norm": normalize_screen(known["joints_2d"], size[:, 0], size[:, 1]).to(torch.float32),
             "joints_3d": torch.as_tensor(known["joints_3d"], dtype=torch.float32)}
    own = evaluate_lifter(lifter, split, skel)["mpjpe"]  # the lifter's own error on these poses
    assert _mpjpe_mm(got["joints_3d"], known["joints_3d"]) == pytest.approx(own, rel=1e-4)


def test_coco_and_body25_lift_within_the_lifters_error(run, known, tmp_path, capsys):
    coco = _coco17(known["joints_2d"])
    np.savez(tmp_path / "exact.npz", joints_2d=known["joints_2d"], image_size=known["image_size"])
    _lift(["--checkpoint", run / "checkpoint.pt", "--input", tmp_path / "exact.npz", "--out", tmp_path / "e.npz"],
          capsys)
    exact = np.load(tmp_path / "e.npz")["joints_3d"]
    n = len(coco)
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": int(w), "height": int(h)}
                      for i, (w, h) in enumerate(known["image_size"])],
           "annotations": [{"id": i, "image_id": i, "category_id": 1, "num_keypoints": 17,
                            "keypoints": np.concatenate([coco[i], np.full((17, 1), 2.0)], 1).ravel().tolist()}
                           for i in range(n)],
           "categories": [{"id": 1, "name": "person", "keypoints": list(LAYOUT_JOINTS["coco"])}]}
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    _lift(["--checkpoint", run / "checkpoint.pt", "--input", tmp_path / "ann.json", "--out", tmp_path / "c.npz"],
          capsys)
    got = np.load(tmp_path / "c.npz")
    err_exact, err_coco = _mpjpe_mm(exact, known["joints_3d"]), _mpjpe_mm(got["joints_3d"], known["joints_3d"])
    # only perspective separates the 2D midpoints from the projected 3D midpoints (measured: 0.4 mm at most)
    assert abs(err_coco - err_exact) < 0.1 and np.abs(got["joints_3d"] - exact).max() < 0.005

    # the same people as OpenPose BODY_25 files (one image size: OpenPose files carry none)
    pick = np.flatnonzero((known["image_size"] == known["image_size"][0]).all(1))
    folder = tmp_path / "openpose"
    folder.mkdir()
    for i in pick:
        body = np.zeros((25, 3))
        for k, name in enumerate(LAYOUT_JOINTS["coco"]):
            body[BODY25_NAMES.index(name)] = [*coco[i, k], 0.8]
        body[BODY25_NAMES.index("neck")] = [1e4, -1e4, 0.9]  # BODY_25-only keypoints are not read
        (folder / f"frame_{i:05d}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": body.ravel().tolist()}]}))
    w, h = known["image_size"][0]
    _lift(["--checkpoint", run / "checkpoint.pt", "--input", folder, "--out", tmp_path / "b.npz", "--image-size", w,
           h], capsys)
    body = np.load(tmp_path / "b.npz")
    np.testing.assert_allclose(body["joints_3d"], got["joints_3d"][pick], atol=1e-6)
    np.testing.assert_allclose(body["confidence"], 0.8)


def test_missing_joints_are_filled_flagged_and_reported(run, known, tmp_path, capsys):
    coco = _coco17(known["joints_2d"][:4])
    scores = np.full((4, 17), 0.9)
    scores[1, LAYOUT_JOINTS["coco"].index("left_wrist")] = 0.0  # not detected
    scores[2] = 0.02  # nothing above --min-confidence: skipped
    results = [{"image_id": 100 + i, "category_id": 1, "score": 0.7,
                "keypoints": np.concatenate([coco[i], scores[i, :, None]], 1).ravel().tolist()} for i in range(4)]
    (tmp_path / "res.json").write_text(json.dumps(results))
    text = _lift(["--checkpoint", run / "checkpoint.pt", "--input", tmp_path / "res.json", "--out",
                  tmp_path / "r.npz", "--image-size", 2048, 2048], capsys)
    got = np.load(tmp_path / "r.npz")
    assert got["ids"].tolist() == ["100", "101", "103"] and got["source_index"].tolist() == [0, 1, 3]
    assert "skipped 1 entries" in text and "102" in text and "1 joints in 1 entries were missing" in text
    wrist, elbow = H36M16.joint("LWrist"), H36M16.joint("LElbow")
    assert got["filled"].sum() == 1 and got["filled"][1, wrist]
    assert got["confidence"][1, wrist] == 0.0  # carried over, flagged, and the position is the elbow's, not zero
    np.testing.assert_array_equal(got["joints_2d"][1, wrist], got["joints_2d"][1, elbow])
    assert np.isfinite(got["joints_3d"]).all() and np.allclose(got["scores"], 0.7)


def test_fill_rule_and_body25_reduction():
    skel = H36M16
    joints = np.arange(2 * 16 * 2, dtype=np.float64).reshape(2, 16, 2)
    conf = np.ones((2, 16))
    conf[0, [skel.joint("Pelvis"), skel.joint("RKnee"), skel.joint("RAnkle")]] = 0.0
    joints[0, skel.joint("LWrist")] = np.nan  # not finite: missing whatever its confidence
    filled, mask, placed = fill_missing(joints, conf, skel, 0.5)
    present = [k for k in range(16) if k not in (0, 2, 3, skel.joint("LWrist"))]
    np.testing.assert_allclose(filled[0, 0], joints[0, present].mean(0))  # root: mean of the present joints
    np.testing.assert_array_equal(filled[0, 2], filled[0, 1])  # knee -> its hip
    np.testing.assert_array_equal(filled[0, 3], filled[0, 1])  # ankle -> the (filled) knee
    np.testing.assert_array_equal(filled[0, skel.joint("LWrist")], filled[0, skel.joint("LElbow")])
    assert mask[0].sum() == 4 and not mask[1].any() and placed.all()
    _, mask, placed = fill_missing(joints, np.zeros((2, 16)), skel, 0.5)
    assert not placed.any() and not mask.any()

    rng = np.random.default_rng(0)
    coco = rng.normal(size=(3, 17, 2))
    body = rng.normal(size=(3, 25, 2))
    for k, name in enumerate(LAYOUT_JOINTS["coco"]):
        body[:, BODY25_NAMES.index(name)] = coco[:, k]
    ones = np.ones((3, 25))
    a = to_skeleton(Detections(body, ones, "body25", np.arange(3).astype(str), np.zeros(3)), "h36m17")
    b = to_skeleton(Detections(coco, ones[:, :17], "coco", np.arange(3).astype(str), np.zeros(3)), "h36m17")
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("argv,words", [
    (["--input", "{d}/absent.json", "--out", "{d}/o.npz"], ["--input", "absent.json", "no such file"]),
    (["--input", "{d}/bad.json", "--out", "{d}/o.npz"], ["--input", "bad.json", "not valid JSON"]),
    (["--input", "{d}/res.json", "--out", "{d}/o.npz"], ["--image-size", "W H"]),
    (["--input", "{d}/res.json", "--out", "{d}/o.txt"], ["--out", ".npz"]),
])
def test_lift_input_errors_are_one_line(run, tmp_path, capsys, argv, words):
    from cli_testing import one_error_line

    (tmp_path / "bad.json").write_text("{not json")
    row = {"image_id": 1, "score": 1.0, "keypoints": [10.0, 20.0, 1.0] * 17}
    (tmp_path / "res.json").write_text(json.dumps([row]))
    rc, _, err = call(lift_main, ["--checkpoint", run / "checkpoint.pt",
                                  *[a.format(d=tmp_path) for a in argv]], capsys)
    line = one_error_line(err)
    assert rc == 2 and all(w.format(d=tmp_path) in line for w in words), line


def _lifted_like_evaluate(run, dataset):
    """What the run's lifter predicts for a dataset, through the path evaluate takes (dataset.tensors)."""
    import torch

    lifter, _, _ = load_lifter(run / "checkpoint.pt")
    with torch.no_grad():
        return lifter(dataset.tensors()["joints_2d_norm"]).numpy()


def test_a_pose_archive_in_another_layout_lifts_as_training_reads_it(run, tmp_path, capsys):
    """The issue's case: an h36m17 archive with per-sample cameras and image sizes, as --target and --data read it;
    no --image-size needed, converted to the lifter's h36m16 as training converts, and the lifted poses score what
    evaluate scores on the same archive."""
    from cli_testing import evaluate, read_json

    from posefast.data.spec import load

    archive = tmp_path / "poses17.npz"
    data17 = load("synthetic:3dhp", split="test", n=96, seed=5, skeleton="h36m17")
    assert data17.skeleton.name == "h36m17" and len(np.unique(data17.image_size, axis=0)) > 1
    data17.save(archive)
    text = _lift(["--checkpoint", run / "checkpoint.pt", "--input", archive, "--out", tmp_path / "o.npz"], capsys)
    got = np.load(tmp_path / "o.npz")
    assert "lifted 96 of 96 entries" in text and "h36m16 -> h36m16" in text
    data16 = data17.to_skeleton("h36m16")  # what load(archive, skeleton="h36m16") gives training
    np.testing.assert_array_equal(got["joints_2d"], data16.joints_2d)
    np.testing.assert_array_equal(got["image_size"], data16.image_size)
    np.testing.assert_allclose(got["joints_3d"], _lifted_like_evaluate(run, data16), atol=1e-6)
    rc, _, err = evaluate(["--checkpoint", run / "checkpoint.pt", "--data", archive, "--no-flip-test", "--json",
                           tmp_path / "m.json"], capsys)
    assert rc == 0, err
    assert _mpjpe_mm(got["joints_3d"], data16.joints_3d) == pytest.approx(read_json(tmp_path / "m.json")["mpjpe"],
                                                                          rel=1e-4)


def test_a_data_spec_lifts_the_split_evaluate_scores(run, tmp_path, capsys):
    """``--input synthetic:3dhp`` (the run's own target) lifts exactly the poses evaluate scores (--split/--n too)."""
    _, _, cfg = load_lifter(run / "checkpoint.pt")
    dataset, _ = load_eval_data("synthetic:3dhp", cfg, "test", 40)
    text = _lift(["--checkpoint", run / "checkpoint.pt", "--input", "synthetic:3dhp", "--split", "test", "--n", 40,
                  "--out", tmp_path / "o.npz"], capsys)
    got = np.load(tmp_path / "o.npz")
    assert "lifted 40 of 40 entries of the run's target test split of synthetic:3dhp" in text
    np.testing.assert_array_equal(got["joints_2d"], dataset.joints_2d)
    np.testing.assert_allclose(got["joints_3d"], _lifted_like_evaluate(run, dataset), atol=1e-6)


def test_a_plain_npz_may_name_its_layout(run, known, tmp_path, capsys):
    """joints_2d in h36m17 (``skeleton`` key) or COCO-17 (``layout`` key) lift like the lifter's own layout."""
    from posefast.skeleton import h36m16_to_h36m17

    np.savez(tmp_path / "own.npz", joints_2d=known["joints_2d"], image_size=known["image_size"])
    np.savez(tmp_path / "h17.npz", joints_2d=h36m16_to_h36m17(known["joints_2d"]), image_size=known["image_size"],
             skeleton="h36m17")
    np.savez(tmp_path / "coco.npz", joints_2d=_coco17(known["joints_2d"]), image_size=known["image_size"],
             layout="coco")
    out = {}
    for name in ("own", "h17", "coco"):
        _lift(["--checkpoint", run / "checkpoint.pt", "--input", tmp_path / f"{name}.npz", "--out",
               tmp_path / f"o_{name}.npz"], capsys)
        out[name] = np.load(tmp_path / f"o_{name}.npz")["joints_3d"]
    np.testing.assert_array_equal(out["h17"], out["own"])
    assert np.abs(out["coco"] - out["own"]).max() < 0.005  # the COCO rules' midpoints vs the projected ones


@pytest.mark.parametrize("make,extra,words", [
    (lambda d: np.savez(d / "x.npz", joints_2d=np.zeros((4, 17, 2)), image_size=[640, 480]), [],
     ["x.npz", "[N, 16, 2] in the lifter's h36m16 layout", "(4, 17, 2)", "'skeleton' or 'layout' key"]),
    (lambda d: np.savez(d / "x.npz", joints_2d=np.zeros((4, 16, 2)), image_size=[640, 480], layout="smpl"), [],
     ["x.npz", "layout 'smpl' is not one of"]),
    (lambda d: np.savez(d / "x.npz", joints_2d=np.zeros((4, 16, 2)), image_size=[640, 480]), ["--split", "test"],
     ["--split", "only for a pose archive or data spec"]),
    (lambda d: None, ["--n", "-1"], ["--n", "non-negative"]),
])
def test_lift_layout_errors_are_one_line(run, tmp_path, capsys, make, extra, words):
    from cli_testing import one_error_line

    make(tmp_path)
    source = tmp_path / "x.npz" if (tmp_path / "x.npz").exists() else "synthetic:3dhp"
    rc, _, err = call(lift_main, ["--checkpoint", run / "checkpoint.pt", "--input", source, "--out",
                                  tmp_path / "o.npz", *extra], capsys)
    line = one_error_line(err)
    assert rc == 2 and all(w in line for w in words), line

"""TigDog and SynAnimal as UDAPE / UDA-Animal-Pose store them (``tigdog:`` / ``synanimal:``): fixtures written here
in the releases' on-disk formats (MATLAB ranges and landmark cells, ``*img.png`` + ``*kpts.npy``, the clean_data
JSON, the split lists), read back in the releases' index order, keypoint order and scored-keypoint rule; the
layout mappings; bad and damaged files in one line naming the file; and both through the CLI."""
import json
import math
import os
import warnings

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from posefast.data.image2d.animal_releases import (SYNANIMAL_VERTICES, TIGER_TO_HORSE, load_synanimal, load_tigdog,
                                                   parse_release_spec, read_tigdog_frames)
from posefast.data.image2d.animal_specs import animal_spec_kind, load_animal_spec
from posefast.skeleton import ANIMAL14, KEYPOINT_MAPS, TIGDOG18

W, H = 96, 72  # frame size of the fixtures (the releases' are 640 x 480 / 400 x 225; nothing depends on it)

# shot id, first frame, last frame per animal; shot 12's landmark file is missing (the release skips it)
RANGES = {"horse": [[10, 100, 109], [12, 110, 111], [11, 200, 204]], "tiger": [[5, 7, 9]]}
TIGDOG_SPLITS = {"horse": ([0, 3, 5, 6, 7, 8, 9, 10, 11], [14, 1, 2]), "tiger": ([1], [0, 2])}


def _image(path, w=W, h=H, seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _landmarks(shot: int, f: int) -> tuple[np.ndarray, np.ndarray]:
    """19 landmarks (TigDog's newer files have 19; the releases keep the first 18) of frame ``f`` of ``shot``:
    row r at (8 + 4r + f, 6 + 3r) so every row is told apart; row 2 unlabelled (y = 0), row 5 flagged invisible but
    placed (y > 0), row 9 at x = 0 (left out of the x extent, as the releases do)."""
    xy = np.stack([8.0 + 4 * np.arange(19) + f + shot % 3, 6.0 + 3 * np.arange(19)], 1)
    flags = np.ones((19, 1))
    xy[2], flags[2] = 0.0, 0.0
    flags[5] = 0.0
    xy[9, 0] = 0.0
    return xy, flags


def write_tigdog(root, with_splits=True):
    """The releases' ``animal_data`` (behaviorDiscovery2.0) and ``cached_data`` split lists under ``root``."""
    bd = root / "animal_data" / "behaviorDiscovery2.0"
    for animal, ranges in RANGES.items():
        (bd / "ranges" / animal).mkdir(parents=True)
        (bd / "landmarks" / animal).mkdir(parents=True)
        scipy.io.savemat(bd / "ranges" / animal / "ranges.mat", {"ranges": np.array(ranges, dtype=np.float64)})
        for shot, first, last in ranges:
            if shot == 12:
                continue
            cells = np.empty((last - first + 1, 1), dtype=object)
            for f in range(last - first + 1):
                xy, flags = _landmarks(shot, f)
                cells[f, 0] = {"coords": xy, "visible": flags}
            scipy.io.savemat(bd / "landmarks" / animal / f"{shot}.mat", {"landmarks": cells})
            for frame in range(first, last + 1):
                _image(str(bd / animal / f"{frame:08d}.jpg"), seed=frame)
    if with_splits:
        for animal, (train, valid) in TIGDOG_SPLITS.items():
            d = root / "cached_data" / "real_animal" / animal
            d.mkdir(parents=True)
            np.save(d / "train_idxs_by_video.npy", np.array(train, dtype=np.int64))
            np.save(d / "valid_idxs_by_video.npy", np.array(valid, dtype=np.int64))
    return root / "animal_data"


def release_box(pts: np.ndarray, w: int, h: int) -> tuple[float, float, float]:
    """The releases' crop of a TigDog frame: centre and side (real_animal_all.py lines 129-144)."""
    xs, ys = pts[pts[:, 0] > 0, 0], pts[pts[:, 1] > 0, 1]
    x0, x1 = max(xs.min() - 15, 0.0), min(xs.max() + 15, w)
    y0, y1 = max(ys.min() - 15, 0.0), min(ys.max() + 15, h)
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 1.25


def _to_crop(pts, cx, cy, side, size):
    left, top, s = math.floor(cx - side / 2), math.floor(cy - side / 2), math.ceil(side)
    return (pts - np.array([left, top])) * (size / s), (left, top, s)


def test_tigdog_frames_in_the_release_order_and_the_tiger_reordered(tmp_path):
    data = write_tigdog(tmp_path)
    frames, xy, flags, counts = read_tigdog_frames(data, "horse")
    # shot 10 (frames 100-109), shot 12 skipped (no landmark file), shot 11 (200-204)
    assert [f[0] for f in frames] == [f"horse/{n:08d}.jpg" for n in [*range(100, 110), *range(200, 205)]]
    assert [f[1:] for f in frames] == [(10, f) for f in range(10)] + [(11, f) for f in range(5)]
    assert counts["shots without a landmark file"] == 1
    assert np.array_equal(xy[14], _landmarks(11, 4)[0][:18])  # the 19th row dropped
    assert np.array_equal(flags[14], _landmarks(11, 4)[1][:18, 0])
    frames, xy, flags, _ = read_tigdog_frames(data, "tiger")
    raw = _landmarks(5, 2)[0][:18]
    # row j of tigdog18 is the tiger file's row TIGER_TO_HORSE[j]: its knees (file rows 15-18, 1-based) come before
    # its shoulders (13, 14) and elbows (9-12), UDA-Animal-Pose real_animal_all.py line 70
    assert TIGER_TO_HORSE == tuple(np.array([1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 13, 14, 9, 10, 11, 12]) - 1)
    assert np.array_equal(xy[2], raw[list(TIGER_TO_HORSE)])
    assert TIGDOG18.joint_names[8] == "left_front_knee" and np.array_equal(xy[2, 8], raw[14])


def test_tigdog_split_lists_crops_and_scored_keypoints(tmp_path):
    data = write_tigdog(tmp_path)
    with pytest.warns(UserWarning, match="left out .*1 horse: shots without a landmark file"):
        d = load_tigdog(data, 32, animal="horse", split="valid")
    # the valid list [14, 1, 2] in its own order
    assert d.extras["frames"] == ["horse/00000204.jpg", "horse/00000101.jpg", "horse/00000102.jpg"]
    assert d.keypoint_names == TIGDOG18.joint_names and d.meta["split"] == "valid"
    assert d.meta["split_files"]["horse"].endswith(os.path.join("real_animal", "horse", "valid_idxs_by_video.npy"))
    for i, (shot, f) in enumerate([(11, 4), (10, 1), (10, 2)]):
        pts = _landmarks(shot, f)[0][:18]
        cx, cy, side = release_box(pts, W, H)
        want, box = _to_crop(pts, cx, cy, side, 32)
        assert tuple(d.extras["crop_boxes"][i].tolist()) == box
        scored = pts[:, 1] > 0  # the releases draw (and so score) a keypoint when y > 0, whatever its flag
        assert torch.equal(d.visible[i], torch.tensor(scored, dtype=torch.float32))
        assert torch.allclose(d.keypoints[i][scored], torch.tensor(want[scored], dtype=torch.float32))
    flagged = load_tigdog(data, 32, animal="horse", split="valid", visible="flag")
    assert flagged.visible[:, 5].sum() == 0 and d.visible[:, 5].sum() == 3
    both = load_tigdog(data, 32, split="train")  # horse first, then tiger, each through its own list
    assert both.extras["frames"] == [f"horse/{n:08d}.jpg" for n in (100, 103, 105, 106, 107, 108, 109, 200, 201)] \
        + ["tiger/00000008.jpg"]
    assert len(load_tigdog(data, 32, split="all")) == 18
    assert len(load_tigdog(data, 32, split="all", max_items=2)) == 2


def test_tigdog_in_another_layout_and_through_a_keypoint_map(tmp_path):
    data = write_tigdog(tmp_path)
    d18 = load_tigdog(data, 32, animal="tiger", split="valid")
    d14 = load_tigdog(data, 32, "animal14", animal="tiger", split="valid")
    table = list(KEYPOINT_MAPS[("tigdog18", "animal14")])
    assert torch.equal(d14.keypoints, d18.keypoints[:, table]) and torch.equal(d14.visible, d18.visible[:, table])
    assert d14.meta["unmapped_bodyparts"] == ["chin", "hip", "left_shoulder", "right_shoulder"]
    mouse = load_tigdog(data, 32, "mouse7", animal="tiger", split="valid",
                        keypoint_map="chin=nose,hip=tail_base")
    assert torch.equal(mouse.keypoints[:, 5], d18.keypoints[:, 7])  # tail_base <- hip
    assert mouse.meta["absent_keypoints"] == ["left_front_paw", "right_front_paw", "left_hind_paw",
                                              "right_hind_paw", "tail_mid"]
    assert mouse.visible[:, 0].sum() == 0  # the chin is TigDog's unlabelled row 2 in these fixtures
    with pytest.raises(ValueError, match="none of .* tigdog18 keypoints is a keypoint of mouse7"):
        load_tigdog(data, 32, "mouse7", animal="tiger", split="valid")


# -- SynAnimal --------------------------------------------------------------------------------------------------

def _vertices(animal: str, i: int, n_vertices: int) -> np.ndarray:
    """Projected vertices [V, 3] of image ``i``: every vertex inside the frame, the keypoint vertices at told-apart
    places; keypoint 4 left of the frame (x < 0), keypoint 6 occluded (flag 0)."""
    rng = np.random.default_rng(i)
    v = np.column_stack([rng.uniform(20, 70, n_vertices), rng.uniform(15, 55, n_vertices), np.ones(n_vertices)])
    for k, vid in enumerate(SYNANIMAL_VERTICES[animal]):
        v[vid] = (22 + 2.5 * k + i, 17 + 2 * k, 1.0)
    v[SYNANIMAL_VERTICES[animal][4], 0] = -3.0
    v[SYNANIMAL_VERTICES[animal][6], 2] = 0.0
    return v


SYN_SPLITS = {"train": [0, 2, 3, 5, 6, 7, 8, 9], "valid": [4, 1]}


def write_synanimal(root, animal="horse", n=10):
    """``animal_data/synthetic_animal/<animal>_combineds5r5_texture`` (``*img.png`` + ``*kpts.npy``, as the
    releases' generator writes them) and ``cached_data`` split lists; returns the vertex arrays."""
    folder = root / "animal_data" / "synthetic_animal" / f"{animal}_combineds5r5_texture"
    folder.mkdir(parents=True)
    n_vertices = max(SYNANIMAL_VERTICES[animal]) + 1
    arrays = []
    for i in range(n):
        name = f"{i:02d}_{animal}_walk_0.{i}0"
        _image(str(folder / f"{name}_img.png"), seed=100 + i)
        arrays.append(_vertices(animal, i, n_vertices))
        np.save(folder / f"{name}_kpts.npy", arrays[-1])
    splits = root / "cached_data" / "synthetic_animal" / f"{animal}_combineds5r5_texture"
    splits.mkdir(parents=True)
    for split, idx in SYN_SPLITS.items():
        np.save(splits / f"{split}_idxs.npy", np.array(idx, dtype=np.int64))
    return root / "animal_data", arrays


def write_clean_json(data, animal, arrays, vertices, k):
    """The releases' clean_data/keypoints_<k>.json, built as their generate_data_file does (sorted image list,
    the vertices picked, the box of all vertices, the split lists)."""
    folder = data / "synthetic_animal" / f"{animal}_combineds5r5_texture"
    names = sorted(p for p in os.listdir(folder) if p.endswith("img.png"))
    entry = {"imgpath": [f"./animal_data/synthetic_animal/{animal}_combineds5r5_texture/{nm}" for nm in names],
             "keypoints": [a[list(vertices)].tolist() for a in arrays],
             "bbox": [[a[:, 0].min(), a[:, 0].max(), a[:, 1].min(), a[:, 1].max()] for a in arrays],
             "train_idxs": SYN_SPLITS["train"], "valid_idxs": SYN_SPLITS["valid"]}
    path = data / "clean_data" / f"keypoints_{k}.json"
    path.parent.mkdir(exist_ok=True)
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc[animal] = entry
    path.write_text(json.dumps(doc))
    return path


def test_synanimal_files_vertices_splits_and_scored_keypoints(tmp_path):
    data, arrays = write_synanimal(tmp_path)
    d = load_synanimal(data, 32, animal="horse", split="valid")
    folder = data / "synthetic_animal" / "horse_combineds5r5_texture"
    names = sorted(p for p in os.listdir(folder) if p.endswith("img.png"))
    assert d.extras["frames"] == [f"horse/{names[4]}", f"horse/{names[1]}"]  # the list's order, not sorted
    for row, i in enumerate(SYN_SPLITS["valid"]):
        a = arrays[i]
        pts = a[list(SYNANIMAL_VERTICES["horse"])]
        lo = np.clip(a[:, :2].min(0), 0, [W, H])
        hi = np.clip(a[:, :2].max(0), 0, [W, H])
        want, box = _to_crop(pts[:, :2], *((lo + hi) / 2), (hi - lo).max() * 1.25, 32)
        assert tuple(d.extras["crop_boxes"][row].tolist()) == box
        # in the frame = scored (the release zeroes points outside it); the occlusion flag does not matter
        scored = (pts[:, 0] >= 0) & (pts[:, 0] <= W) & (pts[:, 1] > 0) & (pts[:, 1] <= H)
        assert scored.tolist() == [k != 4 for k in range(18)]
        assert torch.equal(d.visible[row], torch.tensor(scored, dtype=torch.float32))
        assert torch.allclose(d.keypoints[row][scored], torch.tensor(want[scored], dtype=torch.float32))
    assert load_synanimal(data, 32, animal="horse", split="valid", visible="flag").visible[:, 6].sum() == 0
    assert len(load_synanimal(data, 32, animal="horse", split="all")) == 10


def test_synanimal_clean_json_reads_as_the_files_do(tmp_path):
    data, arrays = write_synanimal(tmp_path)
    write_clean_json(data, "horse", arrays, SYNANIMAL_VERTICES["horse"], 18)
    from_files = load_synanimal(data, 32, animal="horse", split="valid", annotations="npy")
    from_json = load_synanimal(data, 32, animal="horse", split="valid")  # the JSON is read when present
    assert from_json.meta["annotations"] == "json" and from_files.meta["annotations"] == "npy"
    for key in ("images", "keypoints", "visible"):
        assert torch.equal(getattr(from_json, key), getattr(from_files, key))


def test_synanimal_hound_fourteen_keypoints(tmp_path):
    data, arrays = write_synanimal(tmp_path, "hound")
    # UDAPE's 14 hound vertices (lib/datasets/synthetic_animal_sp_all_other.py line 36) are the 18 of line 37
    # through tigdog18 -> animal14
    udape14 = (2028, 2580, 878, 977, 1541, 1734, 799, 1575, 1446, 602, 780, 1580, 466, 631)
    assert tuple(SYNANIMAL_VERTICES["hound"][i] for i in KEYPOINT_MAPS[("tigdog18", "animal14")]) == udape14
    write_clean_json(data, "hound", arrays, udape14, 14)
    from_json = load_synanimal(data, 32, "animal14", animal="hound", split="valid")
    from_files = load_synanimal(data, 32, "animal14", animal="hound", split="valid", annotations="npy")
    assert from_json.meta["native_layout"] == "animal14" and from_files.meta["native_layout"] == "tigdog18"
    assert torch.equal(from_json.keypoints, from_files.keypoints)
    assert torch.equal(from_json.visible, from_files.visible)
    assert from_json.keypoint_names == ANIMAL14.joint_names


# -- specs and bad input ----------------------------------------------------------------------------------------

def test_specs_and_their_options(tmp_path):
    data = write_tigdog(tmp_path)
    assert parse_release_spec(f"tigdog:{data}?animal=horse&split=train") == (
        "tigdog", str(data), {"animal": "horse", "split": "train"})
    assert animal_spec_kind(f"synanimal:{data}") == "synanimal"
    for spec, msg in ((f"tigdog:{data}?animal=cat", "animal must be one of horse, tiger, all"),
                      (f"tigdog:{data}?annotations=json", "unknown option 'annotations'"),
                      (f"tigdog:{data}?split", "expected key=value"),
                      (f"tigdog:{data}?split=train&split=valid", "given twice"),
                      ("tigdog:?split=train", "names no folder")):
        with pytest.raises(ValueError, match=msg):
            animal_spec_kind(spec, "--target")
    d = load_animal_spec(f"tigdog:{data}?animal=horse", 32, "tigdog18", split="train", n=1)
    assert len(d) == 1 and d.meta["split"] == "train" and d.meta["spec"] == f"tigdog:{data}?animal=horse"
    d = load_animal_spec(f"tigdog:{data}?animal=horse&split=valid", 32, "tigdog18", split="train")
    assert d.meta["split"] == "valid"  # what the spec names wins
    with pytest.raises(ValueError, match="region"):
        load_animal_spec(f"tigdog:{data}", 32, "tigdog18", region=(0, 0, 1, 0.5))


def _one_line(exc, path):
    text = str(exc.value)
    assert "\n" not in text and str(path) in text, text


def test_bad_files_fail_in_one_line_naming_the_file(tmp_path):
    data = write_tigdog(tmp_path)
    bd = data / "behaviorDiscovery2.0"
    ranges = bd / "ranges" / "horse" / "ranges.mat"
    scipy.io.savemat(ranges, {"ranges": np.array([[10, 100, 112]])})  # more frames than shot 10's cells
    with pytest.raises(ValueError, match="10 landmark cells, fewer than the 13 frames") as e:
        load_tigdog(data, 32, animal="horse", split="all")
    _one_line(e, bd / "landmarks" / "horse" / "10.mat")
    scipy.io.savemat(ranges, {"ranges": np.array([[10, 100], [11, 200]])})
    with pytest.raises(ValueError, match="'ranges' must be a numeric \\[shots, 3\\]") as e:
        load_tigdog(data, 32, animal="horse")
    _one_line(e, ranges)
    scipy.io.savemat(ranges, {"ranges": np.array(RANGES["horse"])})
    split = tmp_path / "cached_data" / "real_animal" / "horse" / "valid_idxs_by_video.npy"
    np.save(split, np.array([0, 15]))
    with pytest.raises(ValueError, match="indices must lie in \\[0, 15\\)") as e:
        load_tigdog(data, 32, animal="horse")
    _one_line(e, split)
    np.save(split, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled objects") as e:
        load_tigdog(data, 32, animal="horse")
    _one_line(e, split)
    os.remove(split)
    with pytest.raises(FileNotFoundError, match="valid_idxs_by_video.npy .* pass splits="):
        load_tigdog(data, 32, animal="horse")
    assert len(load_tigdog(data, 32, animal="horse", split="train", splits=tmp_path / "cached_data")) == 9
    with pytest.raises(ValueError, match="not a TigDog folder"):
        load_tigdog(tmp_path, 32)
    syn, _ = write_synanimal(tmp_path / "s")
    kpts = sorted((syn / "synthetic_animal" / "horse_combineds5r5_texture").glob("*kpts.npy"))[4]
    np.save(kpts, np.zeros((100, 3)))
    with pytest.raises(ValueError, match="100 vertices, but the keypoints are vertices up to 1718") as e:
        load_synanimal(syn, 32, animal="horse")
    _one_line(e, kpts)
    clean = syn / "clean_data" / "keypoints_18.json"
    clean.parent.mkdir()
    clean.write_text(json.dumps({"horse": {"imgpath": [], "keypoints": []}}))
    with pytest.raises(ValueError, match="missing or not lists: \\['bbox', 'train_idxs', 'valid_idxs'\\]") as e:
        load_synanimal(syn, 32, animal="horse")
    _one_line(e, clean)


@pytest.mark.parametrize("which", ["ranges", "landmarks", "split", "kpts", "json"])
def test_damaged_files_fail_with_one_line_naming_the_file(tmp_path, which):
    from hypothesis import HealthCheck, given, settings
    from test_data_dlc import _mutants, _mutate

    tig = write_tigdog(tmp_path)
    syn, arrays = write_synanimal(tmp_path / "s")
    bd = tig / "behaviorDiscovery2.0"
    target = {"ranges": bd / "ranges" / "horse" / "ranges.mat", "landmarks": bd / "landmarks" / "horse" / "10.mat",
              "split": tmp_path / "cached_data" / "real_animal" / "horse" / "valid_idxs_by_video.npy",
              "kpts": sorted((syn / "synthetic_animal" / "horse_combineds5r5_texture").glob("*kpts.npy"))[1]}
    if which == "json":
        target["json"] = write_clean_json(syn, "horse", arrays, SYNANIMAL_VERTICES["horse"], 18)
    path = target[which]
    good = path.read_bytes()
    load = (lambda: load_tigdog(tig, 16, animal="horse")) if which in ("ranges", "landmarks", "split") else \
        (lambda: load_synanimal(syn, 16, animal="horse"))

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_mutants())
    def check(how):
        path.write_bytes(_mutate(good, how))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = load()
            assert len(d) > 0 and torch.isfinite(d.keypoints).all()
        except (ValueError, FileNotFoundError) as e:
            assert "\n" not in str(e) and str(path) in str(e), str(e)

    check()


# -- through the CLI --------------------------------------------------------------------------------------------

TINY_ANIMAL = ["--set", "multilevel.image_size=32", "--set", "animal.n_source=8", "--set", "animal.n_target=8",
               "--set", "animal.n_test=6", "--set", "multilevel.pretrain_epochs=1", "--epochs", "1", "--batch-size",
               "4", "--set", "multilevel.deconv_channels=8", "--set", "multilevel.adain_steps=2", "--set",
               "multilevel.adain_size=16", "--set", "compare.bootstrap=20", "--jobs", "1", "--quiet", "--no-plots"]


@pytest.mark.filterwarnings("ignore:.*left out")
def test_synanimal_to_tigdog_through_train_and_evaluate(tmp_path, capsys):
    from cli_testing import evaluate, one_error_line, train
    from test_evaluate_animal import _stage_checkpoint

    from posefast.skeleton import MOUSE7

    tig = write_tigdog(tmp_path / "t")
    syn, _ = write_synanimal(tmp_path / "s")
    out = tmp_path / "run"
    source, target = f"synanimal:{syn}?animal=horse", f"tigdog:{tig}"
    rc, _, err = train(["multilevel", "--task", "animal", "--source", source, "--target", target, "--out", out,
                        "--seeds", "0", *TINY_ANIMAL], capsys)
    assert rc == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source"] == source and summary["target"].startswith(target) and summary["skeleton"] == "tigdog18"
    assert summary["n_target_test"] == 5  # the valid lists: 3 horse + 2 tiger frames
    # the fixture labels no chin in the valid frames: that group is left out of the table and named, never NaN
    assert set(summary["per_group"]) == set(TIGDOG18.keypoint_groups) - {"chin"}
    assert "Not scored (no labelled keypoint in the test crops): chin." in (out / "summary.md").read_text()
    stage = out / "seed0" / "multilevel" / "checkpoint.pt"
    metrics = json.loads((out / "seed0" / "multilevel" / "metrics.json").read_text())
    rc, _, err = evaluate(["--checkpoint", stage, "--data", target, "--json", tmp_path / "e.json"], capsys)
    assert rc == 0, err
    scored = json.loads((tmp_path / "e.json").read_text())
    assert scored["pck"] == pytest.approx(metrics["target"]["pck"], abs=1e-9) and scored["n"] == 5
    rc, _, err = evaluate(["--checkpoint", stage, "--data", f"{target}?animal=tiger", "--json",
                           tmp_path / "t.json"], capsys)
    assert rc == 0, err
    tiger = json.loads((tmp_path / "t.json").read_text())
    assert tiger["n"] == 2 and tiger["split"] == "its valid split"
    rc, _, err = evaluate(["--checkpoint", stage, "--data", source, "--split", "train", "--json",
                           tmp_path / "s.json"], capsys)
    assert rc == 0 and json.loads((tmp_path / "s.json").read_text())["n"] == 8, err
    # a mouse7 network scored on TigDog through a keypoint map
    mouse = _stage_checkpoint(tmp_path / "mouse.pt", MOUSE7)
    rc, _, err = evaluate(["--checkpoint", mouse, "--data", target, "--keypoint-map", "left_eye=nose,hip=tail_base",
                           "--json", tmp_path / "m.json"], capsys)
    assert rc == 0, err
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n"] == 5 and set(m["per_group"]) == set(MOUSE7.keypoint_groups)
    rc, _, err = train(["multilevel", "--task", "animal", "--source", source, "--target", f"{target}?split=train",
                        "--out", tmp_path / "r2", "--seeds", "0", *TINY_ANIMAL], capsys)
    assert rc == 2 and "names its split" in one_error_line(err)
    rc, _, err = train(["multilevel", "--task", "animal", "--source", f"tigdog:{tig}", "--target", target,
                        "--out", tmp_path / "r3", "--seeds", "0", *TINY_ANIMAL], capsys)
    assert rc == 2 and "the labelled source must be rendered" in one_error_line(err)

"""LSP / LSP-extended / COCO-style loaders of posefast.data.image2d on fixtures written here, good and corrupted.

Each fixture photo carries a coloured square under every annotated joint, so a correct crop-and-resize puts
each returned keypoint on a pixel of its joint's colour - a check that does not reuse the loader's geometry.
"""
import colorsys
import json

import numpy as np
import pytest
import torch

PIL = pytest.importorskip("PIL")
scipy_io = pytest.importorskip("scipy.io")
from PIL import Image  # noqa: E402

from posefast.data.image2d import BODY16_NAMES, LSP14_NAMES, load_coco_keypoints, load_lsp  # noqa: E402

S = 64
COCO17 = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle"]
MARK = 5  # half side of a joint's coloured square, source pixels


def colours(k):
    return np.array([colorsys.hsv_to_rgb(i / k, 1.0, 1.0) for i in range(k)])


def spread_points(rng, k, w, h, margin=12, min_gap=14):
    """k points inside a w x h photo, at least min_gap apart (so markers do not overlap)."""
    pts = []
    while len(pts) < k:
        p = rng.uniform([margin, margin], [w - margin, h - margin])
        if all(np.abs(p - q).max() >= min_gap for q in pts):
            pts.append(p)
    return np.array(pts)


def photo(points, w, h, rng, skip=()):
    """uint8 [h, w, 3]: grey noise with a coloured square centred on each point not in ``skip``."""
    img = rng.integers(90, 140, (h, w, 3)).astype(np.uint8)
    for i, ((x, y), c) in enumerate(zip(points, colours(len(points)))):
        if i in skip:
            continue
        xi, yi = int(x), int(y)
        img[yi - MARK:yi + MARK + 1, xi - MARK:xi + MARK + 1] = (c * 255).astype(np.uint8)
    return img


def assert_on_markers(image, keypoints, names_to_colour):
    """Each (name -> colour) keypoint of one crop sits on a pixel of that colour."""
    for k, c in names_to_colour.items():
        x, y = keypoints[k].tolist()
        pix = image[:, int(y), int(x)].numpy()
        assert np.abs(pix - c).max() < 0.25, f"keypoint {k} at ({x:.1f}, {y:.1f}) shows {pix}, expected {c}"


# ---------------------------------------------------------------------------------------------------- LSP
def write_lsp(root, n=3, extended=False, seed=0, ext="jpg"):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    xy = np.zeros((n, 14, 2))
    flags = rng.integers(0, 2, (n, 14))
    for i in range(n):
        w, h = int(rng.integers(110, 160)), int(rng.integers(140, 190))
        xy[i] = spread_points(rng, 14, w, h)
        name = ("im%05d." if extended else "im%04d.") + ext
        Image.fromarray(photo(xy[i], w, h, rng)).save(root / "images" / (name % (i + 1)), quality=100)
    if extended:
        joints = np.concatenate([xy, flags[..., None]], -1).transpose(1, 2, 0)  # 14 x 3 x N
    else:
        joints = np.concatenate([xy, flags[..., None]], -1).transpose(2, 1, 0)  # 3 x 14 x N
    scipy_io.savemat(root / "joints.mat", {"joints": joints})
    return xy, flags


@pytest.mark.parametrize("extended", [False, True])
def test_lsp_round_trip(tmp_path, extended):
    xy, flags = write_lsp(tmp_path, extended=extended)
    ds = load_lsp(tmp_path, S)
    assert len(ds) == 3 and ds.images.shape == (3, 3, S, S) and ds.keypoint_names == BODY16_NAMES
    assert ds.meta["source"] == ("lspet" if extended else "lsp") and ds.extras["crop_boxes"].shape == (3, 3)
    pal = colours(14)
    to16 = {BODY16_NAMES.index(nm if nm != "neck" else "upper_neck"): j for j, nm in enumerate(LSP14_NAMES)}
    for i in range(3):
        assert_on_markers(ds.images[i], ds.keypoints[i], {k: pal[j] for k, j in to16.items()})
        # LSP's third row flags occlusion; LSP-extended's flags visibility.
        expect = flags[i] if extended else 1 - flags[i]
        got = np.array([ds.visible[i, k].item() for k, j in sorted(to16.items(), key=lambda t: t[1])])
        np.testing.assert_array_equal(got, expect)
        # Not annotated in LSP: pelvis / thorax are midpoints, never visible.
        for name, (a, b) in {"pelvis": ("left_hip", "right_hip"),
                             "thorax": ("left_shoulder", "right_shoulder")}.items():
            k = BODY16_NAMES.index(name)
            assert ds.visible[i, k] == 0
            mid = (ds.keypoints[i, BODY16_NAMES.index(a)] + ds.keypoints[i, BODY16_NAMES.index(b)]) / 2
            torch.testing.assert_close(ds.keypoints[i, k], mid)
        # The person box fills 80 % of the crop, centred.
        lo, hi = ds.keypoints[i].amin(0), ds.keypoints[i].amax(0)
        assert abs((hi - lo).max().item() / S - 0.8) < 0.03
        assert ((lo + hi) / 2 - S / 2).abs().max() < 1.0


def test_lsp_indices_and_pattern(tmp_path):
    write_lsp(tmp_path, n=3, ext="png")
    ds = load_lsp(tmp_path, 48, indices=[2, 0], image_pattern="im%04d.png")
    assert len(ds) == 2 and ds.images.shape[-1] == 48 and ds.extras["indices"].tolist() == [2, 0]
    sub = ds.subset([1])
    assert sub.extras["files"] == ds.extras["files"][1:] and torch.equal(sub.extras["crop_boxes"],
                                                                         ds.extras["crop_boxes"][1:])
    assert ds.extras["files"][0].endswith("im0003.png") and ds.extras["files"][1].endswith("im0001.png")
    with pytest.raises(ValueError, match="indices"):
        load_lsp(tmp_path, 48, indices=[3], image_pattern="im%04d.png")


def test_lsp_corrupted_fixtures_raise_clear_errors(tmp_path):
    write_lsp(tmp_path)
    mat = tmp_path / "joints.mat"
    # A damaged image names its file.
    (tmp_path / "images" / "im0002.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match=r"im0002\.jpg.*not a readable image"):
        load_lsp(tmp_path, S)
    (tmp_path / "images" / "im0002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"im0002\.jpg"):
        load_lsp(tmp_path, S)
    # Damaged or malformed joints.mat.
    mat.write_bytes(b"MATLAB 5.0 MAT-file, garbage" + bytes(range(200)))
    with pytest.raises(ValueError, match=r"joints\.mat.*not a readable MATLAB file"):
        load_lsp(tmp_path, S)
    scipy_io.savemat(mat, {"joints": np.zeros((3, 13, 2))})
    with pytest.raises(ValueError, match=r"joints\.mat.*3 x 14 x N"):
        load_lsp(tmp_path, S)
    scipy_io.savemat(mat, {"points": np.zeros((3, 14, 2))})
    with pytest.raises(ValueError, match=r"joints\.mat.*no 'joints' variable"):
        load_lsp(tmp_path, S)
    bad = np.ones((3, 14, 2))
    bad[2, 0, 0] = 0.5
    scipy_io.savemat(mat, {"joints": bad})
    with pytest.raises(ValueError, match=r"joints\.mat.*flags must be 0 or 1"):
        load_lsp(tmp_path, S)
    with pytest.raises(FileNotFoundError, match="joints file not found"):
        load_lsp(tmp_path / "nowhere", S)


# --------------------------------------------------------------------------------------------------- COCO
def write_coco(root, seed=0):
    """Two photos, four annotations: one with a bbox, one without, one crowd, one with nothing labelled."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    anns, truth = [], {}
    for image_id, (w, h) in ((7, (150, 170)), (9, (130, 180))):
        pts = spread_points(rng, 17, w, h)
        v = rng.choice([1, 2], 17, p=[0.3, 0.7])
        v[:3] = 0  # nose and eyes not labelled: no marker, coordinates zero as COCO writes them
        pts[:3] = 0
        Image.fromarray(photo(pts, w, h, rng, skip={0, 1, 2})).save(root / "img" / f"{image_id}.png")
        kp = np.concatenate([pts, v[:, None]], 1).ravel().tolist()
        truth[image_id] = (pts, v)
        ann = {"id": 100 + image_id, "image_id": image_id, "category_id": 1, "keypoints": kp, "iscrowd": 0,
               "num_keypoints": int((v > 0).sum())}
        if image_id == 7:
            lab = pts[v > 0]
            lo, hi = lab.min(0) - 10, lab.max(0) + 10
            ann["bbox"] = [*lo.tolist(), *(hi - lo).tolist()]
        anns.append(ann)
    anns.append({"id": 200, "image_id": 7, "category_id": 1, "keypoints": anns[0]["keypoints"], "iscrowd": 1})
    anns.append({"id": 201, "image_id": 9, "category_id": 1, "keypoints": [0] * 51, "iscrowd": 0})
    doc = {"images": [{"id": 7, "file_name": "7.png"}, {"id": 9, "file_name": "9.png"}], "annotations": anns,
           "categories": [{"id": 1, "name": "person", "keypoints": COCO17}]}
    (root / "person_keypoints.json").write_text(json.dumps(doc))
    return truth


def test_coco_round_trip_file_keypoints(tmp_path):
    truth = write_coco(tmp_path)
    ds = load_coco_keypoints(tmp_path / "person_keypoints.json", tmp_path / "img", S, keypoint_names=None)
    assert len(ds) == 2 and ds.keypoint_names == tuple(COCO17)
    assert ds.extras["annotation_ids"] == [107, 109]
    pal = colours(17)
    for i, image_id in enumerate((7, 9)):
        _, v = truth[image_id]
        labelled = {k: pal[k] for k in range(17) if v[k] > 0}
        assert_on_markers(ds.images[i], ds.keypoints[i], labelled)
        inside = ((ds.keypoints[i] >= 0) & (ds.keypoints[i] < S)).all(-1).numpy()
        np.testing.assert_array_equal(ds.visible[i].numpy(), ((v == 2) & inside).astype(np.float32))
    # With a bbox its longer side fills 80 % of the crop: the labelled points (10 px inside it) span less.
    lab = ds.keypoints[0][torch.as_tensor(truth[7][1] > 0)]
    assert (lab.amax(0) - lab.amin(0)).max() < 0.8 * S


def test_coco_to_body16(tmp_path):
    truth = write_coco(tmp_path)
    path, img = tmp_path / "person_keypoints.json", tmp_path / "img"
    with pytest.raises(ValueError, match=r"upper_neck.*missing='invisible'"):
        load_coco_keypoints(path, img, S)
    ds = load_coco_keypoints(path, img, S, missing="invisible")
    assert ds.keypoint_names == BODY16_NAMES and ds.keypoints.shape == (2, 16, 2)
    assert ds.meta["absent_keypoints"] == ["upper_neck", "head_top"]
    assert ds.meta["derived_keypoints"] == ["pelvis", "thorax"]
    pal = colours(17)
    for i, image_id in enumerate((7, 9)):
        _, v = truth[image_id]
        on = {BODY16_NAMES.index(nm): pal[COCO17.index(nm)] for nm in BODY16_NAMES
              if nm in COCO17 and v[COCO17.index(nm)] > 0}
        assert_on_markers(ds.images[i], ds.keypoints[i], on)
        for name in ("upper_neck", "head_top", "pelvis", "thorax"):
            assert ds.visible[i, BODY16_NAMES.index(name)] == 0
        torch.testing.assert_close(ds.keypoints[i, BODY16_NAMES.index("head_top")], torch.tensor([S / 2, S / 2]))
        hips = ds.keypoints[i, [BODY16_NAMES.index("left_hip"), BODY16_NAMES.index("right_hip")]]
        torch.testing.assert_close(ds.keypoints[i, BODY16_NAMES.index("pelvis")], hips.mean(0))


def _edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def test_coco_corrupted_fixtures_raise_clear_errors(tmp_path):
    write_coco(tmp_path)
    path, img = tmp_path / "person_keypoints.json", tmp_path / "img"
    good = path.read_text()
    load = lambda: load_coco_keypoints(path, img, S, keypoint_names=None)  # noqa: E731

    path.write_text(good[:-20])
    with pytest.raises(ValueError, match=r"person_keypoints\.json.*not valid JSON"):
        load()
    path.write_text(good)
    _edit(path, lambda d: d["annotations"][1].__setitem__("keypoints", [1, 2, 2] * 16))
    with pytest.raises(ValueError, match=r"annotation 109.*3 x 17 numbers"):
        load()
    path.write_text(good)
    _edit(path, lambda d: d.pop("annotations"))
    with pytest.raises(ValueError, match=r"no 'annotations' field"):
        load()
    path.write_text(good)
    _edit(path, lambda d: d["annotations"][0].__setitem__("image_id", 99))
    with pytest.raises(ValueError, match=r"annotation 107.*image_id 99"):
        load()
    path.write_text(good)
    _edit(path, lambda d: d["annotations"][0]["keypoints"].__setitem__(5, 3))
    with pytest.raises(ValueError, match=r"annotation 107.*flags must be 0, 1 or 2"):
        load()
    path.write_text(good)
    _edit(path, lambda d: d["categories"][0].pop("keypoints"))
    with pytest.raises(ValueError, match=r"category has no 'keypoints'"):
        load()
    path.write_text(good)
    (img / "9.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"9\.png.*not a readable image"):
        load()
    with pytest.raises(ValueError, match="missing"):
        load_coco_keypoints(path, img, S, missing="drop")

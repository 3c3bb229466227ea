"""DeepLabCut / Lightning Pose labelled data: CSV and H5 tables written the way DLC writes them (pandas), the two
folder layouts, keypoint maps, and the real mirror-mouse folder (skipped when absent)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from posefast.data.image2d.animal_files import (NAMED_KEYPOINT_MAPS, find_dlc_files, load_dlc, load_video_frames,
                                                parse_keypoint_map, read_dlc_table)

MOUSE = "/work/shared/data/mouse-lp"
BODYPARTS = ["nose", "tail_base", "paw_left", "ear"]
# 3 images x 4 bodyparts (x, y); NaN = not labelled
XY = np.array([[[10, 12], [40, 30], [20, 44], [np.nan, np.nan]],
               [[11, 13], [41, 31], [np.nan, np.nan], [5, 5]],
               [[12, 14], [42, 32], [22, 46], [6, 6]]], dtype=np.float64)


def _frame(path, shape=(60, 64), value=90):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(len(path))
    Image.fromarray(rng.integers(0, 255, shape + (3,), dtype=np.uint8)).save(path)


def _dataframe(index, scorer="alice"):
    pd = pytest.importorskip("pandas")
    cols = pd.MultiIndex.from_product([[scorer], BODYPARTS, ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    return pd.DataFrame(XY.reshape(3, -1), index=index, columns=cols)


def _project(tmp_path, fmt, index_style):
    pd = pytest.importorskip("pandas")
    root = tmp_path / "proj"
    (root / "labeled-data" / "vid1").mkdir(parents=True)
    (root / "config.yaml").write_text("Task: t\nscorer: alice\nbodyparts:\n- nose\n- tail_base\n")
    names = [f"img{i:03d}.png" for i in range(3)]
    for nm in names:
        _frame(str(root / "labeled-data" / "vid1" / nm))
    if index_style == "multi":
        index = pd.MultiIndex.from_tuples([("labeled-data", "vid1", nm) for nm in names])
    else:
        index = [f"labeled-data/vid1/{nm}" for nm in names]
    df = _dataframe(index)
    out = root / "labeled-data" / "vid1" / "CollectedData_alice"
    if fmt == "csv":
        df.to_csv(str(out) + ".csv")
    else:
        pytest.importorskip("tables")
        pytest.importorskip("h5py")
        df.to_hdf(str(out) + ".h5", key="df_with_missing", mode="w")
    return root


@pytest.mark.parametrize("fmt", ["csv", "h5"])
@pytest.mark.parametrize("index_style", ["multi", "single"])
def test_dlc_project_tables_read_back_exactly(tmp_path, fmt, index_style):
    root = _project(tmp_path, fmt, index_style)
    base, files = find_dlc_files(root)
    assert base == str(root) and files[0].endswith(f"CollectedData_alice.{fmt}")
    names, bodyparts, xy = read_dlc_table(files[0])
    assert bodyparts == BODYPARTS
    assert names == [f"labeled-data/vid1/img{i:03d}.png" for i in range(3)]
    np.testing.assert_array_equal(np.isnan(xy), np.isnan(XY))
    np.testing.assert_allclose(xy[~np.isnan(xy)], XY[~np.isnan(XY)])


def test_lightning_pose_layout_and_crops(tmp_path):
    root = tmp_path / "lp"
    names = [f"labeled-data/img{i:02d}.png" for i in range(3)]
    for nm in names:
        _frame(str(root / nm))
    _dataframe(names, scorer="rick").to_csv(root / "CollectedData.csv")
    d = load_dlc(root, 32, "mouse7", keypoint_map="nose=nose,tail_base=tail_base,paw_left=left_front_paw",
                 box="keypoints")
    assert len(d) == 3 and d.keypoint_names[0] == "nose"
    assert d.meta["unmapped_bodyparts"] == ["ear"]
    assert d.meta["absent_keypoints"] == ["right_front_paw", "left_hind_paw", "right_hind_paw", "tail_mid"]
    # image 1 has no paw label: invisible; the keypoints map through the crop box exactly
    assert d.visible[:, 1].tolist() == [1.0, 0.0, 1.0] and d.visible[:, 0].tolist() == [1, 1, 1]
    left, top, side = d.extras["crop_boxes"][0].tolist()
    np.testing.assert_allclose(d.keypoints[0, 0].numpy(), (XY[0, 0] - [left, top]) * 32 / side, rtol=1e-5)
    # with no map, bodyparts match the layout's names: nose only (tail_base is spelt tail_base in mouse7)
    d2 = load_dlc(root, 32, "mouse7")
    assert set(d2.meta["unmapped_bodyparts"]) == {"paw_left", "ear"}


def test_fixed_box_is_one_square_for_every_image(tmp_path):
    root = tmp_path / "lp"
    names = [f"img{i}.png" for i in range(3)]
    for nm in names:
        _frame(str(root / nm))
    _dataframe(names).to_csv(root / "CollectedData.csv")
    d = load_dlc(root, 32, "mouse7", keypoint_map={"nose": "nose", "tail_base": "tail_base"}, box="fixed", fill=1.0)
    boxes = d.extras["crop_boxes"]
    assert torch.equal(boxes, boxes[:1].expand_as(boxes))
    assert d.meta["fixed_box"] == tuple(int(v) for v in boxes[0].tolist())


def test_bad_inputs_fail_with_one_line_naming_the_problem(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a DeepLabCut table"):
        read_dlc_table(bad)
    multi = tmp_path / "m.csv"
    multi.write_text("scorer,s,s\nindividuals,a,a\nbodyparts,n,n\ncoords,x,y\nimg.png,1,2\n")
    with pytest.raises(ValueError, match="multi-animal"):
        read_dlc_table(multi)
    word = tmp_path / "w.csv"
    word.write_text("scorer,s,s\nbodyparts,n,n\ncoords,x,y\nimg.png,1,abc\n")
    with pytest.raises(ValueError, match="is not a number"):
        read_dlc_table(word)
    with pytest.raises(ValueError, match="keypoint_map: expected a named map"):
        parse_keypoint_map("nonsense")
    root = tmp_path / "lp"
    _frame(str(root / "a.png"))
    _dataframe(["a.png", "../../etc/passwd", "a.png"]).to_csv(root / "CollectedData.csv")
    with pytest.raises(ValueError, match="leaves the project folder"):
        load_dlc(root, 32, "mouse7", keypoint_map={"nose": "nose"})
    with pytest.raises(ValueError, match="keypoint_map: bodyparts \\['snout'\\]"):
        load_dlc(root, 32, "mouse7", keypoint_map={"snout": "nose"})
    with pytest.raises(ValueError, match="not a keypoint of mouse7"):
        load_dlc(root, 32, "mouse7", keypoint_map={"nose": "beak"})


def test_h5_with_pickled_index_is_refused(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    pytest.importorskip("h5py")
    path = tmp_path / "CollectedData_x.h5"
    df = _dataframe(pd.Index(["a.png", 3, ("t",)], dtype=object))
    with pytest.warns(Warning):  # pandas warns that it pickles the mixed object index
        df.to_hdf(path, key="df_with_missing", mode="w")
    with pytest.raises(ValueError, match="does not unpickle"):
        read_dlc_table(path)


@pytest.mark.skipif(not os.path.isdir(MOUSE), reason="the mirror-mouse folder is not on this machine")
def test_real_mirror_mouse_folder():
    names, bodyparts, xy = read_dlc_table(os.path.join(MOUSE, "CollectedData.csv"))
    assert len(names) == 60 and len(bodyparts) == 17 and names[0] == "labeled-data/img01.png"
    d = load_dlc(MOUSE, 48, "mouse7", keypoint_map="mirror-mouse-top", box="fixed")
    assert len(d) == 60 and d.meta["absent_keypoints"] == []
    assert sorted(d.meta["unmapped_bodyparts"]) == sorted(b for b in bodyparts
                                                        if b not in NAMED_KEYPOINT_MAPS["mirror-mouse-top"][1])
    # the CSV's empty cells are unlabelled: visible 0 exactly there
    _, _, tops = read_dlc_table(os.path.join(MOUSE, "CollectedData.csv"))
    col = bodyparts.index("tailMid_top")
    assert d.visible[:, 6].sum() == np.isfinite(tops[:, col, 0]).sum()
    pytest.importorskip("av")
    v = load_video_frames(os.path.join(MOUSE, "videos", "test_vid.mp4"), 48, "mouse7", box=d.meta["fixed_box"],
                          stride=50)
    assert len(v) == 20 and float(v.visible.sum()) == 0


def _mutants():
    from hypothesis import strategies as st

    return st.tuples(st.sampled_from(["truncate", "flip", "insert"]), st.floats(0, 1), st.integers(0, 255))


def _mutate(data: bytes, how) -> bytes:
    kind, where, byte = how
    i = int(where * max(len(data) - 1, 0))
    if kind == "truncate":
        return data[:i]
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ (1 << (byte % 8))]) + data[i + 1:] if data else data
    return data[:i] + bytes([byte]) + data[i:]


@pytest.mark.parametrize("fmt", ["csv", "h5"])
def test_damaged_tables_fail_with_a_value_error_naming_the_file(tmp_path, fmt):
    from hypothesis import HealthCheck, given, settings

    root = _project(tmp_path, fmt, "multi")
    table = root / "labeled-data" / "vid1" / f"CollectedData_alice.{fmt}"
    good = table.read_bytes()

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_mutants())
    def check(how):
        table.write_bytes(_mutate(good, how))
        try:
            read_dlc_table(table)
        except ValueError as e:
            assert str(e).startswith(str(table)) and "\n" not in str(e)

    check()


def test_region_keeps_one_view_of_the_frame(tmp_path):
    root = tmp_path / "lp"
    names = [f"img{i}.png" for i in range(3)]
    for nm in names:
        _frame(str(root / nm), shape=(60, 64))
    _dataframe(names).to_csv(root / "CollectedData.csv")
    # the top half of a 60-row frame is rows 0..29: nose (y 12..14) stays, tail_base (y 30..32) and paw (y 44..46)
    # fall outside and become unlabelled
    d = load_dlc(root, 32, "mouse7", keypoint_map={"nose": "nose", "tail_base": "tail_base",
                                                    "paw_left": "left_front_paw"},
                 box="fixed", fill=1.0, region=(0, 0, 1, 0.5))
    assert d.visible[:, 0].tolist() == [1, 1, 1] and float(d.visible[:, [1, 5]].sum()) == 0
    left, top, side = d.meta["fixed_box"]
    rows_below = int(np.ceil((30 - top) * 32 / side)) + 1  # crop rows that lie below the kept half
    assert float(d.images[:, :, rows_below:].abs().sum()) == 0
    with pytest.raises(ValueError, match="region: expected"):
        load_dlc(root, 32, "mouse7", keypoint_map={"nose": "nose"}, region=(0, 0.5, 1, 0.5))

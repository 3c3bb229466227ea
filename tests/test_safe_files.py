"""Dataset files a user is handed run no code and allocate no more than they hold (issue 23): VideoPose3D's
Human3.6M dicts and the 3DHP per-sequence dicts are read through one restricted unpickler, which also reads a 3DPW
sequence re-saved by Python 3 (protocol 2 writes bytes as ``_codecs.encode``); an ``.npy`` header declaring 10^12
elements is refused before anything is allocated."""
import os
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from cli_testing import call, one_error_line
from test_data_h36m import h36m_dir  # noqa: F401 - the VideoPose3D-style fixture
from test_data_mpi3dhp import _sequence_file
from test_data_pw3d import _sequence, write_py2_pickle

from posefast.cli.evaluate import main as evaluate_main
from posefast.cli.train import main as train_main
from posefast.data import load, load_3dpw, load_h36m


class _RunsCommand:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile(marker):
    return np.array({"S1": {"Walking": _RunsCommand(marker)}}, dtype=object)


@pytest.mark.parametrize("spec", ["h36m", "3dhp"])
def test_a_dataset_file_that_runs_code_is_refused_before_it_runs(spec, tmp_path, capsys):
    marker = tmp_path / "ran"
    if spec == "h36m":
        np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=_hostile(marker))
        data = f"h36m:{tmp_path}"
    else:
        np.savez(tmp_path / "seq.npz", positions_3d=_hostile(marker), positions_2d=_hostile(marker))
        data = f"3dhp:{tmp_path / 'seq.npz'}"
    rc, _, err = call(train_main, ["source-only", "--source", data, "--out", tmp_path / "run", "--quiet"], capsys)
    assert not marker.exists(), "reading the dataset file ran its command"
    assert rc == 2
    line = one_error_line(err)
    assert "refused global posix.system" in line or "refused global os.system" in line, line


def test_videopose3d_and_3dhp_dicts_read_as_before(h36m_dir, tmp_path):  # noqa: F811
    from posefast.data.safe_files import read_npz  # imported in the tests that use it: the others run anywhere

    ds = load_h36m(h36m_dir, keypoints="gt", split="all")
    raw = read_npz(h36m_dir / "data_3d_h36m.npz", objects=True)["positions_3d"].item()
    assert raw["S1"]["Walking 1"].dtype == np.float32 and len(ds) > 0
    truth, _ = _sequence_file(tmp_path / "data_3dhp_gt_test.npz")
    ds = load(f"3dhp:{tmp_path / 'data_3dhp_gt_test.npz'}")
    np.testing.assert_allclose(ds.joints_2d[: len(truth["TS1"][1])], truth["TS1"][1], rtol=1e-6)


def test_a_3dpw_sequence_resaved_by_python3_reads_the_same(tmp_path):
    data, _ = _sequence("downtown_walking_00", 6, 2, seed=0)
    (tmp_path / "py2").mkdir()
    (tmp_path / "py3").mkdir()
    write_py2_pickle(tmp_path / "py2" / "downtown_walking_00.pkl", data)
    with open(tmp_path / "py3" / "downtown_walking_00.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    assert b"_codecs" in (tmp_path / "py3" / "downtown_walking_00.pkl").read_bytes()
    a, b = load_3dpw(tmp_path / "py2"), load_3dpw(tmp_path / "py3")
    for k in ("joints_3d", "joints_2d", "camera", "image_size"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def _npy(header: str, payload: bytes) -> bytes:
    text = header.encode("latin-1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def _zip(path, members: dict, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _archive_with(tmp_path, key, raw):
    from test_data_archive import _arrays

    np.savez(tmp_path / "ok.npz", **_arrays())
    with zipfile.ZipFile(tmp_path / "ok.npz") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[f"{key}.npy"] = raw
    _zip(tmp_path / "big.npz", members)
    return tmp_path / "big.npz"


def test_an_absurd_npy_size_is_refused_before_allocating(tmp_path, capsys):
    raw = _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", b"\0" * 64)
    path = _archive_with(tmp_path, "joints_3d", raw)
    rc, _, err = call(train_main, ["source-only", "--source", path, "--out", tmp_path / "run", "--quiet"], capsys)
    assert rc == 2 and "declares 1000000000000 elements" in one_error_line(err)
    from posefast.data.safe_files import read_npz

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"joints_3d.*declares 1000000000000 elements.*holds 64 bytes"):
            read_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # numpy's allocations are traced: nothing near the declared 8 TB was asked for


def test_a_zip_member_declaring_more_than_it_can_hold_is_refused(tmp_path):
    from posefast.data.safe_files import read_npz

    path = tmp_path / "bomb.npz"
    _zip(path, {"a.npy": _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", b"\0" * 32)})
    raw = bytearray(path.read_bytes())
    # the central directory's uncompressed size (offset 24 of the entry) says 10^12 bytes
    cd = raw.rindex(b"PK\x01\x02")
    raw[cd + 24: cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="declares 4294967280 bytes"):
        read_npz(path)


def test_structured_void_and_object_members_are_refused(tmp_path):
    from posefast.data.safe_files import PickledObjectsError, read_npz

    for descr in ("[('a', '<f8')]", "'|V8'", "'(2,)f8'"):
        path = tmp_path / "x.npz"
        _zip(path, {"a.npy": _npy(f"{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}", b"\0" * 16)})
        with pytest.raises(ValueError, match="a'"):
            read_npz(path)
    np.savez(tmp_path / "o.npz", a=np.array([1, "x"], dtype=object))
    with pytest.raises(PickledObjectsError, match="holds pickled objects"):
        read_npz(tmp_path / "o.npz")
    assert read_npz(tmp_path / "o.npz", objects=True)["a"].tolist() == [1, "x"]


@pytest.mark.parametrize("blob, message", [
    # _reconstruct of anything but numpy's empty placeholder would allocate the shape it names
    (b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I1000000000\ntS'b'\ntR.", "_reconstruct"),
    (b"c_codecs\nencode\n(X\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8tR.", "_codecs.encode"),
    (b"cbuiltins\neval\n(X\x01\x00\x00\x001tR.", "refused global builtins.eval"),
])
def test_the_unpickler_builds_only_what_the_bytes_pay_for(blob, message):
    from posefast.data.safe_files import restricted_loads

    with pytest.raises(pickle.UnpicklingError, match=message):
        restricted_loads(blob, "test file")


def test_array_states_are_checked_before_numpy_allocates():
    from posefast.data.safe_files import restricted_loads

    good = pickle.dumps(np.arange(4.0), protocol=2)
    assert restricted_loads(good, "t").tolist() == [0.0, 1.0, 2.0, 3.0]
    # the same pickle with the shape (4,) replaced by (10^12,): refused, the bytes hold 4 elements
    bad = good.replace(b"K\x04\x85", b"\x8a\x06" + (10**12).to_bytes(6, "little") + b"\x85", 1)
    assert bad != good
    with pytest.raises(pickle.UnpicklingError, match="does not hold that many elements"):
        restricted_loads(bad, "t")
    obj = pickle.dumps(np.array([1, 2], dtype=object), protocol=2)
    assert restricted_loads(obj, "t").tolist() == [1, 2]
    assert restricted_loads(pickle.dumps(np.float32(2.5), protocol=5), "t") == np.float32(2.5)
    assert restricted_loads(pickle.dumps(np.arange(3), protocol=5), "t").tolist() == [0, 1, 2]


def test_every_json_reader_shares_one_refusal(tmp_path, monkeypatch):
    """COCO annotations, detections, OpenPose folders and SynAnimal keypoints all parse through ``read_json``: a file
    over the size cap is refused before parsing, and broken, non-UTF-8 or too deeply nested JSON is one ValueError."""
    from posefast.data import safe_files
    from posefast.data.detections import read_detections
    from posefast.skeleton import BODY16
    from posefast.data.image2d.loaders import load_coco_keypoints

    good = tmp_path / "ok.json"
    good.write_text('{"a": [1, 2.5, "x"]}')
    assert safe_files.read_json(good) == {"a": [1, 2.5, "x"]}
    for name, raw in (("broken.json", b'{"a": '), ("latin.json", b'{"\xe9": 1}'), ("deep.json", b"[" * 100_000)):
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=rf"{name}: not valid JSON"):
            safe_files.read_json(tmp_path / name)
    monkeypatch.setattr(safe_files, "MAX_JSON_BYTES", 8)
    with pytest.raises(ValueError, match=r"ok\.json: 20 bytes, more than a JSON file posefast reads \(8\)"):
        safe_files.read_json(good)
    with pytest.raises(ValueError, match=r"ok\.json: 20 bytes"):
        load_coco_keypoints(good, tmp_path)
    with pytest.raises(ValueError, match=r"ok\.json: 20 bytes"):
        read_detections(good, BODY16)

"""posefast's MATLAB level-5 reader (posefast.data.mat_files): the same arrays as scipy.io.loadmat on the files
savemat writes (compressed or not; numbers of every class, complex, logical, char, cells, structs), and one line
naming the file for what scipy crashes the interpreter on (an element type the format does not have), for sparse
arrays, -v7.3 files and damaged bytes."""
import numpy as np
import pytest
import scipy.io
import scipy.sparse
from test_data_dlc import _mutants, _mutate

from posefast.data.mat_files import MatStruct, read_mat


def _variables():
    cells = np.empty((3, 1), dtype=object)
    for f in range(3):
        cells[f, 0] = {"coords": np.arange(38.0).reshape(19, 2) + f, "visible": np.ones((19, 1)), "tag": "horse"}
    return {"landmarks": cells, "ranges": np.array([[10, 100, 109], [12, 110, 111]], dtype=np.float64),
            "i16": np.arange(-3, 3, dtype=np.int16).reshape(2, 3), "u64": np.array([2**40], dtype=np.uint64),
            "f32": np.linspace(0, 1, 4, dtype=np.float32), "z": np.array([1 + 2j, -3j]),
            "flags": np.array([[True, False, True]]), "text": "TigDog", "empty": np.zeros((0, 3)),
            "nested": np.array([[np.array([1.0, 2.0]), "x"]], dtype=object)}


@pytest.mark.parametrize("compressed", [False, True])
def test_reads_what_savemat_writes_as_loadmat_does(tmp_path, compressed):
    path = tmp_path / "v.mat"
    scipy.io.savemat(path, _variables(), do_compression=compressed)
    ours, ref = read_mat(path), scipy.io.loadmat(path)
    assert sorted(ours) == sorted(k for k in ref if not k.startswith("__"))
    for key in ("ranges", "i16", "u64", "f32", "z", "flags", "empty"):
        assert ours[key].dtype == ref[key].dtype and np.array_equal(ours[key], ref[key]), key
    assert ours["text"] == "TigDog"
    lm = ours["landmarks"]
    assert lm.shape == (3, 1) and isinstance(lm[1, 0], MatStruct) and lm[1, 0].names == ("coords", "visible", "tag")
    # the releases' landmarks[frame][0][0][0][k]: the cell's struct, its first element, field k
    for f in range(3):
        assert np.array_equal(lm[f, 0][0][0], ref["landmarks"][f][0][0][0][0])
        assert np.array_equal(lm[f, 0][0][1], ref["landmarks"][f][0][0][0][1])
    assert np.array_equal(ours["nested"][0, 0], ref["nested"][0, 0]) and ours["nested"][0, 1] == "x"


def _one_line(path, match):
    with pytest.raises(ValueError, match=match) as e:
        read_mat(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_what_scipy_crashes_on_and_other_refusals(tmp_path):
    path = tmp_path / "r.mat"
    scipy.io.savemat(path, {"ranges": np.array([[10.0, 100.0, 109.0]])})
    data = bytearray(path.read_bytes())
    real = data.index(b"\x09\x00\x00\x00", 128 + 40)  # the real part's tag (miDOUBLE) after flags, dims, name
    data[real:real + 4] = b"\xcf\xf7\x00\x00"  # a type code the format lacks: loadmat segfaults on this file
    path.write_bytes(bytes(data))
    _one_line(path, "data of element type 63439, not a numeric one")
    scipy.io.savemat(path, {"s": scipy.sparse.eye(3).tocsc()})
    _one_line(path, "'s' is a sparse array, which posefast does not read")
    path.write_bytes(b"\0" * 512 + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    _one_line(path, "a -v7.3 \\(HDF5\\) file")
    path.write_bytes(b"MATLAB 5.0 MAT-file" + b" " * 200)
    _one_line(path, "no level-5 version / endian marker")


@pytest.mark.parametrize("compressed", [False, True])
def test_damaged_files_fail_in_one_line_naming_the_file(tmp_path, compressed):
    from hypothesis import HealthCheck, given, settings

    path = tmp_path / "v.mat"
    scipy.io.savemat(path, _variables(), do_compression=compressed)
    good = path.read_bytes()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_mutants())
    def check(how):
        path.write_bytes(_mutate(good, how))
        try:
            read_mat(path)
        except ValueError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)

    check()

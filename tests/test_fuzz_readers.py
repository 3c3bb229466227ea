"""Bad bytes in any file a user hands posefast end in one line and exit status 2 (issue 23): never a traceback, a
hang or an allocation the file does not pay for.

Every reader gets a valid fixture, and hypothesis mutates it: truncations, flipped bits, overwritten and inserted
bytes, random files, empty files, numbers in text formats replaced by NaN / inf / negative / huge ones; the npz
readers also get wrong dtypes and shapes, non-finite values and ``.npy`` headers declaring absurd sizes; and every
file is also replaced by a directory and made unreadable. Each mutant goes through the command-line entry point that
reads it (``posefast.train`` / ``posefast.evaluate`` / ``posefast.lift`` ``main(argv)`` behind the same wrapper as
``python -m``); the one reader no flag reaches alone (VideoPose3D's 2D file) goes through its loader behind that
wrapper. Examples are fixed (``derandomize``) and few per reader, so the file runs in CI in well under 2 minutes.

Unreadable files: the tests run as root, for whom ``chmod 000`` changes nothing, so ``open`` is made to raise
``PermissionError`` for the file, as the kernel does for other users.
"""
import builtins
import contextlib
import errno
import io
import json
import re
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from cli_testing import TINY, call, one_error_line
from hypothesis import HealthCheck, given, settings, strategies as st
from test_data2d_loaders import write_lsp
from test_data_archive import _arrays
from test_data_cmu import AMC, ASF, BVH
from test_data_h36m import ACTIONS, GT_METADATA, _independent_pixels, _world32
from test_data_mpi3dhp import _poseaug_file, _sequence_file, _test_set, _write_like_spin
from test_data_pw3d import _sequence, write_py2_pickle
from test_multilevel_coco import ML, write_coco

from posefast.cli.common import run_cli
from posefast.cli.evaluate import main as evaluate_main
from posefast.cli.lift import main as lift_main
from posefast.cli import train as train_cli
from posefast.data import load_3dhp, load_h36m
from posefast.data.pose3d.h36m import H36M32_TO_H36M17

EXAMPLES = 12  # per reader and kind of mutation: ~40 s for the whole file on a 2-core CI machine
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


# -- fixtures: one valid file per reader, and the command that reads it ----------------------------------------------
def _quiet_run(argv):
    out = io.StringIO()
    with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
        rc = run_cli(train_cli.main, [str(a) for a in argv])
    assert rc == 0, out.getvalue()


def _coco_detections(path, n=6):
    rng = np.random.default_rng(0)
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(n)],
           "annotations": [{"id": i, "image_id": i, "category_id": 1, "num_keypoints": 17,
                            "keypoints": np.concatenate([rng.uniform(100, 400, (17, 2)), np.full((17, 1), 2.0)],
                                                        1).ravel().round(2).tolist()} for i in range(n)],
           "categories": [{"id": 1, "name": "person", "keypoints": []}]}
    from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS

    doc["categories"][0]["keypoints"] = list(LAYOUT_JOINTS["coco"])
    path.write_text(json.dumps(doc))


def _h36m_files(d):
    pos3d, pos2d = {}, {}
    for i, s in enumerate(("S9", "S11")):  # the test split evaluate reads
        pos3d[s], pos2d[s] = {}, {}
        for j, a in enumerate(ACTIONS[:1]):
            world = _world32(4, seed=10 * i + j)
            pos3d[s][a] = world.astype(np.float32)
            pos2d[s][a] = [_independent_pixels(world[:, list(H36M32_TO_H36M17)], s, v)[1].astype(np.float32)
                           for v in range(4)]
    np.savez(d / "data_3d_h36m.npz", positions_3d=pos3d)  # stored, not deflated: mutations reach the arrays
    np.savez(d / "data_2d_h36m_gt.npz", positions_2d=pos2d, metadata=GT_METADATA)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Every fixture file and, per reader, ``(file to mutate, command)``; a command is ``(main, argv)``."""
    root = tmp_path_factory.mktemp("fuzz")
    lift_run = root / "lift_run"
    _quiet_run(["source-only", *TINY, "--epochs", "1", "--out", lift_run])
    pairs = [ML[i:i + 2] for i in range(6, len(ML), 2)]  # after --epochs 3 --batch-size 4 --seeds 0 ... --quiet
    ml_ml = [*ML[:6], *[a for pair in pairs if "variants" not in pair[1] for a in pair]]
    ml_run = root / "ml_run"
    _quiet_run(["multilevel", *ml_ml, "--epochs", "1", "--set", "multilevel.variants=source-only", "--out", ml_run])
    ckpt = lift_run / "checkpoint.pt"
    stage = ml_run / "seed0" / "source-only" / "checkpoint.pt"

    files = root / "files"
    files.mkdir()
    np.savez(files / "archive.npz", **_arrays(n=6))
    (files / "h36m").mkdir()
    _h36m_files(files / "h36m")
    _poseaug_file(files / "test_3dhp.npz")
    _write_like_spin(files / "mpi_inf_3dhp_valid.npz", _test_set({1: 3, 5: 2}))
    _sequence_file(files / "data_3dhp_gt_test.npz")
    data, _ = _sequence("downtown_walking_00", 5, 1, seed=0)
    data["v_template_clothed"] = []  # the 6890-vertex templates would make each mutant 160 kB to rewrite
    write_py2_pickle(files / "downtown_walking_00.pkl", data)
    rng = np.random.default_rng(1)
    X = rng.normal(0, 0.3, (5, 17, 3)) + [0, 0, 4]
    np.savez(files / "pw3d.npz", positions_3d=X, positions_2d=X[..., :2] / X[..., 2:] * 1000 + 500,
             intrinsics=np.array([1000.0, 1000.0, 500.0, 500.0]))
    (files / "cmu").mkdir()
    (files / "cmu" / "01.asf").write_text(ASF)
    (files / "cmu" / "01_01.amc").write_text(AMC)
    (files / "cmu" / "02_01.bvh").write_text(BVH)
    _coco_detections(files / "detections.json")
    (files / "openpose").mkdir()
    body = np.random.default_rng(2).uniform(50, 400, (25, 3)).round(2)
    body[:, 2] = 0.8
    (files / "openpose" / "frame_00000_keypoints.json").write_text(
        json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": body.ravel().tolist()}]}))
    np.savez(files / "detections.npz", joints_2d=np.random.default_rng(3).uniform(50, 400, (4, 16, 2)),
             image_size=np.array([640.0, 480.0]))
    ann = write_coco(files / "coco2d", n=4)
    write_lsp(files / "lsp", n=2)
    (files / "config.yaml").write_text("source: synthetic:h36m\ntarget: synthetic:3dhp\nepochs: 1\nbatch_size: 128\n"
                                       "n_source: 512\nposeaug:\n  warmup_epochs: 1\n")
    resumable = root / "resumable"
    shutil.copytree(lift_run, resumable)

    def ev(data):
        return evaluate_main, ["--checkpoint", ckpt, "--data", data]

    def lift(inp, *extra):
        return lift_main, ["--checkpoint", ckpt, "--input", inp, "--out", root / "o.npz", *extra]

    h2d = (lambda argv: (load_h36m(files / "h36m", keypoints="gt", split="all"), 0)[1], [])
    readers = {
        "archive": (files / "archive.npz", ev(files / "archive.npz")),
        "h36m-3d": (files / "h36m" / "data_3d_h36m.npz", ev(f"h36m:{files / 'h36m'}")),
        "h36m-2d": (files / "h36m" / "data_2d_h36m_gt.npz", h2d),
        "3dhp-spin": (files / "mpi_inf_3dhp_valid.npz", ev(f"3dhp:{files / 'mpi_inf_3dhp_valid.npz'}")),
        # PoseAug's layout needs studio_frames= for a file shorter than the test set, which no flag passes
        "3dhp-poseaug": (files / "test_3dhp.npz", (lambda argv: (load_3dhp(files / "test_3dhp.npz", studio_frames=7),
                                                                0)[1], [])),
        "3dhp-sequences": (files / "data_3dhp_gt_test.npz", ev(f"3dhp:{files / 'data_3dhp_gt_test.npz'}")),
        "3dpw-pickle": (files / "downtown_walking_00.pkl", ev(f"3dpw:{files / 'downtown_walking_00.pkl'}")),
        "3dpw-npz": (files / "pw3d.npz", ev(f"3dpw:{files / 'pw3d.npz'}")),
        "cmu-asf": (files / "cmu" / "01.asf", ev(f"cmu:{files / 'cmu'}")),
        "cmu-amc": (files / "cmu" / "01_01.amc", ev(f"cmu:{files / 'cmu'}")),
        "cmu-bvh": (files / "cmu" / "02_01.bvh", ev(f"cmu:{files / 'cmu'}")),
        "coco-detections": (files / "detections.json", lift(files / "detections.json")),
        "openpose": (files / "openpose" / "frame_00000_keypoints.json",
                     lift(files / "openpose", "--image-size", "640", "480")),
        "detections-npz": (files / "detections.npz", lift(files / "detections.npz")),
        "coco-keypoints-2d": (ann, (evaluate_main, ["--checkpoint", stage, "--data", f"coco:{ann}"])),
        "image": (ann.parent / "images" / "person_000.jpg",
                  (evaluate_main, ["--checkpoint", stage, "--data", f"coco:{ann}"])),
        "lsp-joints": (files / "lsp" / "joints.mat", (evaluate_main, ["--checkpoint", stage, "--data",
                                                                       f"lsp:{files / 'lsp'}"])),
        "checkpoint-evaluate": (ckpt, ev(files / "archive.npz")),
        "checkpoint-lift": (ckpt, lift(files / "detections.npz")),
        "checkpoint-2d": (stage, (evaluate_main, ["--checkpoint", stage, "--data", f"lsp:{files / 'lsp'}"])),
        "checkpoint-resume": (resumable / "checkpoint.pt",
                              (train_cli.main, ["source-only", *TINY, "--epochs", "1", "--out", resumable,
                                                "--resume"])),
        "checkpoint-init": (ckpt, (train_cli.main, ["source-only", *TINY, "--epochs", "1", "--overwrite", "--out",
                                                    root / "init_run", "--init", ckpt])),
        "yaml-config": (files / "config.yaml", (train_cli.main, ["source-only", "--config", files / "config.yaml",
                                                                 "--out", root / "cfg_run", "--overwrite"])),
    }
    return {"root": root, "readers": readers}


def _no_training(monkeypatch, reader="yaml-config"):
    """For the settings readers (a YAML config, --set): a config that parses starts no training. What is under
    test is the reading, and a mutant may ask for 10^9 poses, which a user may legitimately do."""
    if reader == "yaml-config":
        monkeypatch.setattr(train_cli, "run_lifting", lambda cfg, method: {
            "target": {"mpjpe": 0.0, "p_mpjpe": 0.0, "pck": 0.0, "auc": 0.0}})


@pytest.fixture
def no_training(monkeypatch):
    _no_training(monkeypatch)


# -- the property ----------------------------------------------------------------------------------------------------
def check_one_line(main, argv, capsys):
    """The command ends with status 0, or with 2 and exactly one ``error:`` line and no traceback; anything it
    raises past the wrapper (MemoryError, RecursionError, a bug's exception) fails the test."""
    rc, _, err = call(main, argv, capsys)
    assert rc in (0, 2), err
    assert "Traceback" not in err, err
    if rc == 2:
        one_error_line(err)
    return rc, err


@contextlib.contextmanager
def _replaced(path: Path, data: bytes):
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        yield
    finally:
        path.write_bytes(original)


_NUMBER = re.compile(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_BAD_NUMBERS = [b"nan", b"NaN", b"inf", b"-inf", b"1e309", b"-1", b"0", b"99999999999999999999", b"1e-320", b"",
                b"\"x\"", b"[]", b"{}", b"null"]


def mutation(n: int):
    pos = st.integers(0, max(n - 1, 0))
    return st.one_of(
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("flip"), st.lists(st.tuples(pos, st.integers(0, 7)), min_size=1, max_size=8)),
        st.tuples(st.just("overwrite"), pos, st.binary(min_size=1, max_size=32)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=32)),
        st.tuples(st.just("number"), st.integers(0, 10**6), st.sampled_from(_BAD_NUMBERS)),
        st.tuples(st.just("garbage"), st.binary(max_size=256)),
        st.just(("empty",)),
    )


def mutate(data: bytes, m) -> bytes:
    kind = m[0]
    if kind == "truncate":
        return data[: m[1]]
    if kind == "flip":
        out = bytearray(data)
        for p, bit in m[1]:
            out[p] ^= 1 << bit
        return bytes(out)
    if kind == "overwrite":
        return data[: m[1]] + m[2] + data[m[1] + len(m[2]):]
    if kind == "insert":
        return data[: m[1]] + m[2] + data[m[1]:]
    if kind == "number":  # one number of a text format (or a digit run of a binary one) replaced
        found = list(_NUMBER.finditer(data))
        if not found:
            return data
        hit = found[m[1] % len(found)]
        return data[: hit.start()] + m[2] + data[hit.end():]
    if kind == "garbage":
        return m[1]
    return b""


READERS = ["archive", "h36m-3d", "h36m-2d", "3dhp-spin", "3dhp-poseaug", "3dhp-sequences", "3dpw-pickle",
           "3dpw-npz", "cmu-asf", "cmu-amc", "cmu-bvh", "coco-detections", "openpose", "detections-npz",
           "coco-keypoints-2d", "image", "lsp-joints", "checkpoint-evaluate", "checkpoint-lift", "checkpoint-2d",
           "checkpoint-resume", "checkpoint-init", "yaml-config"]
NPZ_READERS = ["archive", "h36m-3d", "h36m-2d", "3dhp-spin", "3dhp-poseaug", "3dhp-sequences", "3dpw-npz",
               "detections-npz"]


def test_every_reader_is_fuzzed():
    """The list above names every reader the world fixture builds (a reader added there is fuzzed here)."""
    import inspect

    source = inspect.getsource(world)
    assert sorted(re.findall(r'^        "([\w-]+)": \(', source, re.M)) == sorted(READERS)


# the readers behind a training run's start (domains, method) get fewer examples: each costs a second
SLOW = ["checkpoint-resume", "checkpoint-init"]


def _mutated_bytes(reader, world, monkeypatch, capsys, data):
    _no_training(monkeypatch, reader)
    path, (main, argv) = world["readers"][reader]
    original = path.read_bytes()
    m = data.draw(mutation(len(original)), label="mutation")
    with _replaced(path, mutate(original, m)):
        check_one_line(main, argv, capsys)


@pytest.mark.parametrize("reader", [r for r in READERS if r not in SLOW])
@FUZZ
@given(data=st.data())
def test_mutated_bytes_get_one_line(reader, world, monkeypatch, capsys, data):
    _mutated_bytes(reader, world, monkeypatch, capsys, data)


@pytest.mark.parametrize("reader", SLOW)
@settings(FUZZ, max_examples=4)
@given(data=st.data())
def test_mutated_bytes_get_one_line_at_a_runs_start(reader, world, monkeypatch, capsys, data):
    _mutated_bytes(reader, world, monkeypatch, capsys, data)


@pytest.mark.parametrize("reader", READERS)
def test_the_valid_fixture_is_read(reader, world, monkeypatch, capsys):
    """The fixtures are valid: the mutations start from files the command accepts (CMU's tiny skeleton has no
    Human3.6M joints, so its commands end in that one-line refusal, after parsing every file)."""
    _no_training(monkeypatch, reader)
    path, (main, argv) = world["readers"][reader]
    rc, err = check_one_line(main, argv, capsys)
    if reader.startswith("cmu-"):
        assert rc == 2 and "not in the skeleton (root, up, fore)" in err, err
    else:
        assert rc == 0, err


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("how", ["directory", "unreadable"])
def test_a_directory_or_an_unreadable_file(reader, how, world, capsys, monkeypatch):
    _no_training(monkeypatch, reader)
    path, (main, argv) = world["readers"][reader]
    original = path.read_bytes()
    if how == "directory":
        path.unlink()
        path.mkdir()
    else:
        real_open, real_io_open = builtins.open, io.open

        def refusing(file, *args, **kwargs):
            if isinstance(file, (str, Path)) and Path(file) == path:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing)
        monkeypatch.setattr(io, "open", refusing)
    try:
        rc, err = check_one_line(main, argv, capsys)
    finally:
        monkeypatch.setattr(builtins, "open", builtins.open if how == "directory" else real_open)
        if how == "unreadable":
            monkeypatch.setattr(io, "open", real_io_open)
        if path.is_dir():
            path.rmdir()
        path.write_bytes(original)
    assert rc == 2, err


# -- npz readers: wrong arrays, non-finite values, absurd sizes ------------------------------------------------------
def _npz_members(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write_members(path: Path, members: dict):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, raw in members.items():
            z.writestr(name, raw)
    return buf.getvalue()


def _npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)  # writing a test fixture: object arrays are what some loaders read
    return buf.getvalue()


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, prefix + (i,))
    else:
        yield prefix


def _changed(a, how: str, draw):
    a = np.asarray(a)
    if how == "dtype":
        dtype = draw(st.sampled_from(["bool", "int8", "uint16", "float16", "complex64", "U3", "S2"]))
        try:
            return a.astype(dtype)
        except (ValueError, TypeError):  # text that is no number: an array of the right shape and that dtype
            return np.zeros(a.shape, dtype)
    if how == "shape":
        choice = draw(st.sampled_from(["flat", "extra axis", "empty", "scalar", "transpose", "half"]))
        if choice == "flat":
            return a.reshape(-1)
        if choice == "extra axis":
            return a[..., None]
        if choice == "empty":
            return a[:0]
        if choice == "scalar":
            return np.asarray(a.reshape(-1)[0] if a.size else 0)
        if choice == "transpose":
            return a.T
        return a[: max(len(a) // 2, 1)] if a.ndim else a
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64) if a.dtype.kind in "biu" else np.zeros(a.shape)
    out = a.copy()
    if out.size:
        flat = out.reshape(-1)
        idx = draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=4))
        flat[idx] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0]))
    return out


@pytest.mark.parametrize("reader", NPZ_READERS)
@FUZZ
@given(data=st.data())
def test_wrong_arrays_get_one_line(reader, world, capsys, data):
    path, (main, argv) = world["readers"][reader]
    original = path.read_bytes()
    members = _npz_members(path)
    name = data.draw(st.sampled_from(sorted(members)), label="key")
    value = np.load(io.BytesIO(members[name]), allow_pickle=True)  # the test's own fixture
    how = data.draw(st.sampled_from(["dtype", "shape", "values"]), label="how")
    if value.dtype.kind == "O":  # a pickled dict: change one array inside it
        tree = value.item()
        paths = [p for p in _leaf_paths(tree) if p]
        where = data.draw(st.sampled_from(paths), label="leaf")
        node = tree
        for k in where[:-1]:
            node = node[k]
        node[where[-1]] = _changed(node[where[-1]], how, data.draw)
        new = np.array(tree, dtype=object)
    else:
        new = _changed(value, how, data.draw)
    members[name] = _npy_bytes(new)
    with _replaced(path, _write_members(path, members)):
        check_one_line(main, argv, capsys)
    assert path.read_bytes() == original


@pytest.mark.parametrize("reader", NPZ_READERS)
@pytest.mark.parametrize("shape", ["(1000000000000,)", "(1000000, 1000000, 3)", "(-5, 3)", "(2**40,)"])
def test_absurd_npy_sizes_are_refused_before_allocating(reader, shape, world, capsys):
    path, (main, argv) = world["readers"][reader]
    members = _npz_members(path)
    name = sorted(members)[0]
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    members[name] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 256
    with _replaced(path, _write_members(path, members)):
        rc, err = check_one_line(main, argv, capsys)
    assert rc == 2 and str(path) in err, err


# -- --set values ----------------------------------------------------------------------------------------------------
SET_KEYS = ["epochs", "n_source", "lr", "source", "skeleton", "backbone_width", "poseaug.warmup_epochs",
            "multilevel.image_size", "steps_per_epoch", "seed", "nonexistent", "poseaug", ""]


@FUZZ
@given(key=st.sampled_from(SET_KEYS), value=st.one_of(
    st.text(max_size=24), st.sampled_from(["nan", "inf", "-1", "1e400", "[1, 2]", "{a: 1}", "!!python/object:os.system",
                                           "&a [*a]", "'", "0x10", "1_000", "~", "2.5"])))
def test_set_values_get_one_line(key, value, world, no_training, capsys):
    argv = ["source-only", "--set", f"{key}={value}", "--out", world["root"] / "set_run", "--overwrite"]
    check_one_line(train_cli.main, argv, capsys)


def test_a_yaml_tag_that_names_python_code_is_refused(world, no_training, capsys, tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "c.yaml").write_text(f"epochs: !!python/object/apply:os.system ['touch {marker}']\n")
    rc, err = check_one_line(train_cli.main, ["source-only", "--config", tmp_path / "c.yaml", "--out",
                                              tmp_path / "r"], capsys)
    assert rc == 2 and not marker.exists()


# -- checkpoints that load but hold the wrong things -----------------------------------------------------------------
CHECKPOINT_READERS = ["checkpoint-evaluate", "checkpoint-lift", "checkpoint-2d", "checkpoint-resume",
                      "checkpoint-init"]
_WRONG = [None, "x", -1, 3.5, float("nan"), [], {}, [1, "a"], {"a": 1}, torch.zeros(0), torch.zeros(2, 3),
          torch.full((4,), float("nan")), torch.zeros(3, dtype=torch.int64), torch.zeros(1, dtype=torch.bool)]


def _nested_paths(value, prefix=(), depth=0):
    yield prefix
    if depth < 4 and isinstance(value, dict):
        for k, v in value.items():
            yield from _nested_paths(v, prefix + (k,), depth + 1)
    elif depth < 4 and isinstance(value, (list, tuple)) and len(value) < 50:
        for i, v in enumerate(value):
            yield from _nested_paths(v, prefix + (i,), depth + 1)


def _wrong_contents(reader, world, monkeypatch, capsys, data):
    path, (main, argv) = world["readers"][reader]
    original = path.read_bytes()
    state = torch.load(path, weights_only=True)
    where = data.draw(st.sampled_from([p for p in _nested_paths(state) if p]), label="where")
    action = data.draw(st.sampled_from(["replace", "delete"]), label="action")
    node = state
    for k in where[:-1]:
        node = node[k]
    if isinstance(node, tuple):
        return
    if action == "delete" and isinstance(node, dict):
        del node[where[-1]]
    else:
        node[where[-1]] = data.draw(st.sampled_from(_WRONG), label="value")
    buf = io.BytesIO()
    torch.save(state, buf)
    with _replaced(path, buf.getvalue()):
        check_one_line(main, argv, capsys)


@pytest.mark.parametrize("reader", [r for r in CHECKPOINT_READERS if r not in SLOW])
@FUZZ
@given(data=st.data())
def test_wrong_checkpoint_contents_get_one_line(reader, world, monkeypatch, capsys, data):
    _wrong_contents(reader, world, monkeypatch, capsys, data)


@pytest.mark.parametrize("reader", SLOW)
@settings(FUZZ, max_examples=6)
@given(data=st.data())
def test_wrong_checkpoint_contents_get_one_line_at_a_runs_start(reader, world, monkeypatch, capsys, data):
    _wrong_contents(reader, world, monkeypatch, capsys, data)


@pytest.mark.parametrize("size", [(12_000, 12_000), (30_000, 30_000)])
def test_an_image_declaring_a_huge_size_is_refused_before_decoding(size, world, capsys):
    """A few hundred bytes of PNG whose header declares 144 M or 900 M pixels (PIL itself only warns below 179 M)."""
    import zlib

    path, (main, argv) = world["readers"]["image"]
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", *size)  # IHDR width, height
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    with _replaced(path, bytes(png)):
        rc, err = check_one_line(main, argv, capsys)
    assert rc == 2 and "not a readable image" in err, err

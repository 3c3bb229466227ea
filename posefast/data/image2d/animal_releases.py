"""TigDog and SynAnimal as UDAPE and UDA-Animal-Pose store them, read into crops of an animal keypoint layout:
``tigdog:<dir>`` and ``synanimal:<dir>``, options after a ``?`` (``tigdog:<dir>?animal=horse&split=valid``).

The releases read (line numbers at VisionLearningGroup/UDA_PoseEstimation @ baf85f1 = UDAPE, and
chaneyddtt/UDA-Animal-Pose @ 36ef846 = UDA-Animal-Pose):

TigDog (``tigdog:<dir>``; ``<dir>`` holds ``behaviorDiscovery2.0/``, the releases' ``animal_data``, or is it)
    * ``behaviorDiscovery2.0/ranges/<animal>/ranges.mat``: ``ranges``, one row per shot: shot id, first and last
      frame number (inclusive); UDA-Animal-Pose pose/datasets/real_animal_all.py lines 41, 48-57.
    * ``behaviorDiscovery2.0/landmarks/<animal>/<shot id>.mat``: ``landmarks``, a cell per frame of the shot, each a
      struct whose first field is the coordinates [K, 2] (x, y in pixels) and second the visibility flags [K, 1]
      (lines 62-64: ``landmarks[frame][0][0][0][0]`` and ``[1]``); the first 18 rows are the keypoints (line 65).
      A shot without a landmark file is skipped and takes no index (lines 53-54; counted here and reported).
    * the frame ``behaviorDiscovery2.0/<animal>/<frame number, 8 digits>.jpg`` (line 59; read at line 126).
    * the tiger's 18 rows reordered to the horse's (lines 68-70, :data:`TIGER_TO_HORSE`): tigdog18's order.
    * split lists: ``real_animal/<animal>/{train,valid}_idxs_by_video.npy`` in the releases' ``cached_data/``
      (UDAPE) or ``data/`` (UDA-Animal-Pose) folder, indices into that animal's frames in the order above
      (lines 46-47, 74-81); ``all`` = every frame. Animals: ``horse``, ``tiger`` or ``all`` (both, horse first,
      each with its own list, as lines 24 and 38).

SynAnimal (``synanimal:<dir>``; ``<dir>`` holds ``synthetic_animal/``, the releases' ``animal_data``, or is it)
    * ``synthetic_animal/<animal>_combineds5r5_texture/<name>img.png`` with ``<name>kpts.npy`` beside it: every
      mesh vertex projected, [V, 3] = x, y and a depth-test visibility flag; the files in sorted order are the
      indices (UDA-Animal-Pose pose/datasets/synthetic_animal_sp_all.py lines 32-33, 50-52); the keypoints are 18
      vertices (:data:`SYNANIMAL_VERTICES`, lines 36-42 for horse and tiger; UDAPE
      lib/datasets/synthetic_animal_sp_all_other.py lines 37 and 41 for hound and sheep, whose 14-keypoint
      selection at lines 35-40 is tigdog18 -> animal14 of ``posefast.skeleton.KEYPOINT_MAPS``).
    * or the releases' preprocessed ``clean_data/keypoints_18.json`` (horse, tiger) / ``keypoints_14.json`` (UDAPE's
      hound, sheep, in animal14): per animal ``keypoints`` [N, K, 3], ``imgpath``, ``bbox`` (x_min, x_max, y_min,
      y_max of all vertices), ``train_idxs``, ``valid_idxs`` (lines 60-64, read at 114-137). Read when present
      (``annotations=json``), else the ``.npy`` files (``annotations=npy``); an image is looked up by its file name
      in the animal's folder.
    * split lists of the ``.npy`` layout: ``synthetic_animal/<animal>_combineds5r5_texture/{train,valid,test}
      _idxs.npy`` in ``cached_data/`` or ``data/`` (lines 46-47; ``test`` only for UDAPE's hound and sheep).
      Animals: ``horse``, ``tiger``, ``hound``, ``sheep``, or ``all`` (horse and tiger, as line 72).

Split lists are looked for in the ``splits=<folder>`` option (the releases' ``cached_data`` or ``data`` folder),
else in ``<dir>/cached_data``, ``<dir>/data``, ``<dir>/../cached_data``, ``<dir>/../data``.

Which keypoints are scored, as the releases' evaluation reads them: both draw a keypoint's target heatmap only when
its y > 0 (real_animal_all.py line 177; synthetic_animal_sp_all.py line 229, after setting every flag to 1 at line
177 and zeroing the points outside the 640 x 480 frame at line 209), and PCK counts only keypoints with a drawn
target (UDA-Animal-Pose pose/utils/evaluation.py lines 99-109; UDAPE lib/keypoint_detection.py line 65 on). So
by default (``visible=release``) a TigDog keypoint is labelled when y > 0 and a SynAnimal one when it lies in the
frame (0 <= x <= W, 0 < y <= H), whatever the file's flag; ``visible=flag`` also requires the file's visibility
flag (the releases' training weight). Coordinates are used as the files give them, as the releases do.

Crops are the releases' boxes: TigDog's the labelled keypoints' box (x > 0, y > 0) grown by 15 px and clipped to
the frame (real_animal_all.py lines 129-138), SynAnimal's the box of every vertex clipped to the frame (lines
186-189); the crop is the square of 1.25 times its longer side (lines 143-144), ``fill=0.8`` here.

Layouts: both read as tigdog18 (the 14-keypoint JSON as animal14); another layout of the run goes through
``posefast.skeleton.KEYPOINT_MAPS`` (tigdog18 -> animal14), else by keypoint name, or through ``keypoint_map``
(``{"tigdog18 name": "run's keypoint"}``); keypoints nothing maps are listed in ``meta``.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from posefast.data.image2d.animal_files import _plan, _square, parse_keypoint_map
from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.loaders import _crop, _open_rgb, _to_crop
from posefast.data.mat_files import MatStruct, read_mat
from posefast.data.safe_files import read_json, read_npy
from posefast.skeleton import KEYPOINT_MAPS, get_skeleton

__all__ = ["RELEASE_KINDS", "TIGER_TO_HORSE", "SYNANIMAL_VERTICES", "parse_release_spec", "release_spec_split",
           "load_tigdog", "load_synanimal", "load_release_spec", "read_tigdog_frames", "read_split"]

RELEASE_KINDS = ("tigdog", "synanimal")
TIGDOG_ANIMALS = ("horse", "tiger")
SYNANIMAL_ANIMALS = ("horse", "tiger", "hound", "sheep")
SPLITS = ("train", "valid", "test", "all")
VISIBLE = ("release", "flag")

# The tiger's landmark rows in the horse's order: UDA-Animal-Pose real_animal_all.py line 70 (1-based there).
TIGER_TO_HORSE = (0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17, 12, 13, 8, 9, 10, 11)

# The 18 mesh vertices that are tigdog18's keypoints in SynAnimal's kpts.npy (see the module docstring).
SYNANIMAL_VERTICES = {
    "horse": (1718, 1684, 1271, 1634, 1650, 1643, 1659, 925, 392, 564, 993, 726, 1585, 1556, 427, 1548, 967, 877),
    "tiger": (2753, 2679, 2032, 1451, 1287, 3085, 1632, 229, 1441, 1280, 2201, 1662, 266, 158, 270, 152, 219, 129),
    "hound": (2028, 2580, 912, 878, 977, 1541, 1734, 480, 799, 1575, 1446, 602, 755, 673, 780, 1580, 466, 631),
    "sheep": (2046, 1944, 1267, 1875, 1900, 1868, 1894, 687, 173, 1829, 1422, 821, 624, 580, 622, 575, 1370, 716),
}

MARGIN = 15.0  # pixels around TigDog's keypoint box (real_animal_all.py lines 135-138)
MAX_MAT_BYTES = 256 << 20
MAX_FRAMES = 10_000_000
MAX_VERTICES = 1_000_000
_OPTIONS = {"tigdog": ("animal", "split", "splits", "visible"),
            "synanimal": ("animal", "split", "splits", "visible", "annotations")}


# -- specs ---------------------------------------------------------------------------------------------------------

def parse_release_spec(spec: str, flag: str = "--data") -> tuple[str, str, dict]:
    """``tigdog:<dir>?key=value&...`` -> ``(kind, dir, options)``, options checked (a ValueError naming ``flag``)."""
    kind, _, rest = str(spec).partition(":")
    if kind not in RELEASE_KINDS or not rest:
        raise ValueError(f"{flag}: expected tigdog:<dir> or synanimal:<dir>, got {spec!r}")
    path, sep, query = rest.rpartition("?") if "?" in rest else (rest, "", "")
    if not path:
        raise ValueError(f"{flag}: {spec!r} names no folder before '?'")
    options = {}
    for item in query.split("&") if sep else []:
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise ValueError(f"{flag}: {spec!r}: expected key=value after '?', got {item!r}")
        if key not in _OPTIONS[kind]:
            raise ValueError(f"{flag}: {spec!r}: unknown option {key!r}; {kind}: takes {', '.join(_OPTIONS[kind])}")
        if key in options:
            raise ValueError(f"{flag}: {spec!r}: option {key!r} given twice")
        options[key] = value
    animals = TIGDOG_ANIMALS if kind == "tigdog" else SYNANIMAL_ANIMALS
    choices = {"animal": animals + ("all",), "split": SPLITS, "visible": VISIBLE, "annotations": ("json", "npy")}
    for key, allowed in choices.items():
        if key in options and options[key] not in allowed:
            raise ValueError(f"{flag}: {spec!r}: {key} must be one of {', '.join(allowed)}, got {options[key]!r}")
    return kind, path, options


def release_spec_split(spec: str, flag: str = "--data") -> str | None:
    """The split a release spec names (None: it names none)."""
    return parse_release_spec(spec, flag)[2].get("split")


def load_release_spec(spec: str, size: int, skeleton, *, split: str | None = None, keypoint_map=None,
                      fill: float = 0.8, max_items: int | None = None, flag: str = "--data") -> ImagePoseDataset:
    """Crops of a ``tigdog:`` / ``synanimal:`` spec; ``split``: the split when the spec names none (default
    ``valid``, the releases' evaluation split)."""
    kind, path, options = parse_release_spec(spec, flag)
    options.setdefault("split", split or "valid")
    loader = load_tigdog if kind == "tigdog" else load_synanimal
    data = loader(path, size, skeleton, keypoint_map=keypoint_map, fill=fill, max_items=max_items, **options)
    data.meta["spec"] = str(spec)
    return data


# -- shared pieces -------------------------------------------------------------------------------------------------

def _loadmat(path: str, what: str) -> dict:
    """The variables of a MATLAB file, read by posefast's own level-5 reader (``scipy.io.loadmat`` can crash the
    interpreter on a damaged file)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} not found")
    size = os.path.getsize(path)
    if size > MAX_MAT_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than a {what} holds ({MAX_MAT_BYTES})")
    return read_mat(path)


def read_split(path: str, n: int, of: str = "the frames it indexes") -> np.ndarray:
    """A release's split list (``.npy`` of non-negative integer indices below ``n``, the count of ``of``), read
    without unpickling."""
    arr = read_npy(path)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected a 1-D array of integer indices, got {arr.dtype} of shape {arr.shape}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= n):
        raise ValueError(f"{path}: indices must lie in [0, {n}) ({of}), found "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return arr.astype(np.int64)


def _split_dirs(root: str, splits) -> list[str]:
    if splits is not None:
        if not os.path.isdir(splits):
            raise FileNotFoundError(f"splits: {splits}: no such folder (expected the releases' cached_data/ or "
                                    "data/ folder)")
        return [os.path.abspath(splits)]
    parent = os.path.dirname(root)
    return [os.path.join(root, "cached_data"), os.path.join(root, "data"), os.path.join(parent, "cached_data"),
            os.path.join(parent, "data")]


def _find_split(dirs: list[str], relative: str, what: str) -> str:
    for d in dirs:
        if os.path.isfile(os.path.join(d, relative)):
            return os.path.join(d, relative)
    raise FileNotFoundError(f"split: no {relative} ({what}) in {', '.join(dirs)}; pass splits=<the releases' "
                            "cached_data/ or data/ folder>, or split=all")


def _layout_plan(native, skel, keypoint_map, where: str) -> tuple[np.ndarray, list, list]:
    """For each keypoint of ``skel``: the native keypoint it reads (-1: none); the native keypoints no keypoint
    takes; ``skel``'s keypoints nothing gives."""
    names = list(native.joint_names)
    mapping = parse_keypoint_map(keypoint_map)
    if mapping is not None:
        src, unmapped, absent = _plan(names, skel, mapping, where)
    elif native is skel:
        src, unmapped, absent = np.arange(skel.num_joints), [], []
    elif (native.name, skel.name) in KEYPOINT_MAPS:
        src = np.array(KEYPOINT_MAPS[(native.name, skel.name)])
        used = set(int(s) for s in src if s >= 0)
        unmapped = [n for i, n in enumerate(names) if i not in used]
        absent = [n for k, n in enumerate(skel.joint_names) if src[k] < 0]
    else:
        src, unmapped, absent = _plan(names, skel, None, where)
    if (np.asarray(src) < 0).all():
        raise ValueError(f"keypoint_map: none of {where}'s {native.name} keypoints is a keypoint of {skel.name}; "
                         f"pass a keypoint map ('{names[0]}=<keypoint of {skel.name}>,...')")
    return np.asarray(src), unmapped, absent


def _crops(rows, native, skel, keypoint_map, fill: float, size: int, where: str, meta: dict) -> ImagePoseDataset:
    """``rows`` = (image file, keypoints [K, 2], labelled [K] bool, box lo [2], box hi [2], name) in the native
    layout -> the crops in ``skel``'s layout."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    if not 0 < fill <= 1:
        raise ValueError(f"fill: expected a fraction in (0, 1], got {fill!r}")
    src, unmapped, absent = _layout_plan(native, skel, keypoint_map, where)
    have = src >= 0
    k = skel.num_joints
    images, kps, vis, boxes, files, names = [], [], [], [], [], []
    for file, pts, labelled, lo, hi, name in rows:
        box = _square(lo, hi, fill)
        xy = np.zeros((k, 2))
        lab = np.zeros(k)
        xy[have], lab[have] = pts[src[have]], labelled[src[have]]
        kc, vc = _to_crop(xy, lab, box, size)
        kc[lab == 0] = size / 2  # unlabelled: a finite placeholder, never supervised or scored
        images.append(_crop(_open_rgb(file), box, size))
        kps.append(kc)
        vis.append(vc)
        boxes.append(box)
        files.append(file)
        names.append(name)
    if not images:
        raise ValueError(f"{where}: no labelled frame in the chosen split")
    meta = {**meta, "skeleton": skel.name, "native_layout": native.name, "unmapped_bodyparts": unmapped,
            "absent_keypoints": absent}
    return ImagePoseDataset(
        torch.stack(images), torch.as_tensor(np.array(kps, dtype=np.float32).reshape(-1, k, 2)),
        torch.as_tensor(np.array(vis, dtype=np.float32).reshape(-1, k)), skel.joint_names, meta,
        {"files": files, "frames": names, "crop_boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 3)})


def _check_common(animal, animals, split, visible, max_items):
    if animal not in animals + ("all",):
        raise ValueError(f"animal: expected one of {', '.join(animals + ('all',))}, got {animal!r}")
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    if visible not in VISIBLE:
        raise ValueError(f"visible: expected release or flag, got {visible!r}")
    if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer))
                                  or max_items < 1):
        raise ValueError(f"max_items: expected a positive int, got {max_items!r}")


def _report(where: str, counts: dict) -> None:
    """Say what was left out (never silently): one warning line."""
    said = [f"{n} {what}" for what, n in counts.items() if n]
    if said:
        warnings.warn(f"{where}: left out {'; '.join(said)}", stacklevel=3)


# -- TigDog --------------------------------------------------------------------------------------------------------

def _tigdog_folder(root) -> str:
    root = os.path.abspath(os.fspath(root))
    for cand in (os.path.join(root, "behaviorDiscovery2.0"), root):
        if os.path.isdir(os.path.join(cand, "ranges")) and os.path.isdir(os.path.join(cand, "landmarks")):
            return cand
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    raise ValueError(f"{root}: not a TigDog folder (expected behaviorDiscovery2.0/ranges/ and "
                     "behaviorDiscovery2.0/landmarks/ in it, or to be behaviorDiscovery2.0/)")


def _read_ranges(path: str) -> np.ndarray:
    mat = _loadmat(path, "TigDog ranges file")
    if "ranges" not in mat:
        raise ValueError(f"{path}: no 'ranges' variable (found {sorted(k for k in mat if not k.startswith('__'))})")
    r = mat["ranges"]
    if not isinstance(r, np.ndarray) or r.dtype.kind not in "iuf" or r.ndim != 2 or r.shape[1] != 3:
        raise ValueError(f"{path}: 'ranges' must be a numeric [shots, 3] array (shot id, first frame, last frame), "
                         f"got {getattr(r, 'dtype', type(r))} of shape {getattr(r, 'shape', None)}")
    if not np.isfinite(r).all() or (r != np.round(r)).any() or (r < 0).any() or (r >= 1e9).any():
        raise ValueError(f"{path}: 'ranges' must hold non-negative whole numbers below 10^9")
    r = r.astype(np.int64)
    if (r[:, 2] < r[:, 1]).any():
        bad = int(np.flatnonzero(r[:, 2] < r[:, 1])[0])
        raise ValueError(f"{path}: shot {r[bad, 0]} (row {bad + 1}) ends (frame {r[bad, 2]}) before it starts "
                         f"(frame {r[bad, 1]})")
    if int((r[:, 2] - r[:, 1] + 1).sum()) > MAX_FRAMES:
        raise ValueError(f"{path}: more than {MAX_FRAMES} frames")
    return r


def _read_shot(path: str, n_frames: int, ranges: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(coordinates [n, 18, 2], flags [n, 18], landmark rows past the shot's last frame)`` of a landmark file."""
    mat = _loadmat(path, "TigDog landmark file")
    lm = mat.get("landmarks")
    if not isinstance(lm, np.ndarray) or lm.dtype != object or lm.ndim != 2 or lm.shape[1] < 1:
        raise ValueError(f"{path}: expected 'landmarks', a cell array with one cell per frame (a column), got "
                         f"{getattr(lm, 'dtype', type(lm).__name__)} of shape {getattr(lm, 'shape', None)}")
    if lm.shape[0] < n_frames:
        raise ValueError(f"{path}: {lm.shape[0]} landmark cells, fewer than the {n_frames} frames {ranges} gives "
                         "the shot")
    xy, flags = np.zeros((n_frames, 18, 2)), np.zeros((n_frames, 18))
    for f in range(n_frames):
        cell = lm[f, 0]  # the releases' landmarks[frame][0][0][0]: the cell's struct, its first element
        if not isinstance(cell, MatStruct) or len(cell.names) < 2 or not cell.elements:
            raise ValueError(f"{path}: frame {f + 1}: expected a struct of coordinates and visibility flags")
        rec = cell[0]
        if not all(isinstance(x, np.ndarray) and x.dtype.kind in "iuf" for x in rec[:2]):
            raise ValueError(f"{path}: frame {f + 1}: coordinates and flags must be real numbers")
        c, v = rec[0].astype(np.float64), rec[1].astype(np.float64).reshape(-1)
        if c.ndim != 2 or c.shape[1] != 2 or c.shape[0] < 18 or v.size != c.shape[0]:
            raise ValueError(f"{path}: frame {f + 1}: expected coordinates [K >= 18, 2] and K flags, got "
                             f"{c.shape} and {v.size}")
        if not (np.isfinite(c[:18]).all() and np.isfinite(v[:18]).all()):
            raise ValueError(f"{path}: frame {f + 1}: coordinates or flags contain NaN or inf")
        xy[f], flags[f] = c[:18], v[:18]
    return xy, flags, lm.shape[0] - n_frames


def read_tigdog_frames(root, animal: str) -> tuple[list, np.ndarray, np.ndarray, dict]:
    """Every frame of one TigDog animal in the releases' index order: ``(frames [(image path relative to
    behaviorDiscovery2.0, shot id, frame in shot)], xy [N, 18, 2], flags [N, 18], counts of what was left out)``,
    tigdog18 order (the tiger reordered)."""
    bd = _tigdog_folder(root)
    ranges_file = os.path.join(bd, "ranges", animal, "ranges.mat")
    if not os.path.isfile(ranges_file):
        raise FileNotFoundError(f"{ranges_file}: not found (TigDog's {animal} shots; animal=all reads horse and "
                                "tiger, ?animal=... names one)")
    ranges = _read_ranges(ranges_file)
    frames, xys, flags = [], [], []
    counts = {"shots without a landmark file": 0, "landmark cells past a shot's last frame": 0}
    for shot, first, last in ranges.tolist():
        path = os.path.join(bd, "landmarks", animal, f"{shot}.mat")
        if not os.path.isfile(path):
            counts["shots without a landmark file"] += 1
            continue
        xy, fl, extra = _read_shot(path, last - first + 1, ranges_file)
        counts["landmark cells past a shot's last frame"] += extra
        frames += [(f"{animal}/{frame:08d}.jpg", shot, frame - first) for frame in range(first, last + 1)]
        xys.append(xy)
        flags.append(fl)
    if not frames:
        raise ValueError(f"{os.path.join(bd, 'landmarks', animal)}: no landmark file for any shot of ranges.mat")
    xy, fl = np.concatenate(xys), np.concatenate(flags)
    if animal == "tiger":
        xy, fl = xy[:, TIGER_TO_HORSE], fl[:, TIGER_TO_HORSE]
    return frames, xy, fl, counts


def load_tigdog(root, size: int = 64, skeleton="tigdog18", *, animal: str = "all", split: str = "valid",
                splits=None, visible: str = "release", keypoint_map=None, fill: float = 0.8,
                max_items: int | None = None) -> ImagePoseDataset:
    """TigDog frames of ``split`` (the releases' lists, or ``all``) as ``size`` px crops of ``skeleton``'s
    keypoints (see the module docstring); at most the first ``max_items``. Frames of the split with no labelled
    keypoint are left out and counted (``meta["left_out"]``, and a warning)."""
    _check_common(animal, TIGDOG_ANIMALS, split, visible, max_items)
    if split == "test":
        raise ValueError("split: the releases' TigDog lists are train and valid (the evaluation split); got test")
    skel = get_skeleton(skeleton)
    root = os.path.abspath(os.fspath(root))
    bd = _tigdog_folder(root)
    dirs = _split_dirs(os.path.dirname(bd) if os.path.basename(bd) == "behaviorDiscovery2.0" else root, splits)
    rows, counts, lists = [], {}, {}
    for a in (TIGDOG_ANIMALS if animal == "all" else (animal,)):
        frames, xy, fl, c = read_tigdog_frames(bd, a)
        for key, n in c.items():
            counts[f"{a}: {key}"] = n
        if split == "all":
            idx = np.arange(len(frames))
        else:
            lists[a] = _find_split(dirs, os.path.join("real_animal", a, f"{split}_idxs_by_video.npy"),
                                   f"the {a} {split} list")
            idx = read_split(lists[a], len(frames), f"the frames of {os.path.join(bd, 'ranges', a, 'ranges.mat')} "
                                                    "with a landmark file")
        none = 0
        for i in idx.tolist():
            if max_items is not None and len(rows) >= max_items:
                break
            pts = xy[i]
            labelled = pts[:, 1] > 0
            if visible == "flag":
                labelled &= fl[i] > 0
            if not labelled.any():
                none += 1
                continue
            xs, ys = pts[pts[:, 0] > 0, 0], pts[pts[:, 1] > 0, 1]
            w, h = _image_size(os.path.join(bd, frames[i][0]))
            lo = np.array([max(xs.min() - MARGIN, 0.0) if xs.size else 0.0, max(ys.min() - MARGIN, 0.0)])
            hi = np.array([min(xs.max() + MARGIN, w) if xs.size else w, min(ys.max() + MARGIN, h)])
            rows.append((os.path.join(bd, frames[i][0]), pts, labelled, lo, hi, frames[i][0]))
        counts[f"{a}: {split} frames with no labelled keypoint"] = none
    where = f"tigdog:{root}"
    _report(where, counts)
    meta = {"source": "tigdog", "root": bd, "animal": animal, "split": split, "split_files": lists,
            "visible": visible, "left_out": {k: v for k, v in counts.items() if v}}
    return _crops(rows, get_skeleton("tigdog18"), skel, keypoint_map, fill, size, where, meta)


def _image_size(path: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None


# -- SynAnimal -----------------------------------------------------------------------------------------------------

def _synanimal_folder(root) -> str:
    """The folder holding ``synthetic_animal/`` (the releases' ``animal_data``)."""
    root = os.path.abspath(os.fspath(root))
    if os.path.isdir(os.path.join(root, "synthetic_animal")):
        return root
    if os.path.basename(root) == "synthetic_animal" and os.path.isdir(root):
        return os.path.dirname(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder")
    raise ValueError(f"{root}: not a SynAnimal folder (expected synthetic_animal/<animal>_combineds5r5_texture/ in "
                     "it)")


def _read_json(path: str) -> dict:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected an object keyed by animal")
    return doc


def _json_animal(path: str, doc: dict, animal: str, k: int, split: str) -> tuple[list, np.ndarray, np.ndarray,
                                                                               np.ndarray]:
    """``(image file names, keypoints [N, k, 3], bbox [N, 4], indices of split)`` of one animal of a clean_data
    JSON."""
    entry = doc.get(animal)
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: no entry for {animal!r} (found {sorted(doc)[:8]})")
    need = ("keypoints", "imgpath", "bbox", "train_idxs", "valid_idxs")
    missing = [key for key in need if not isinstance(entry.get(key), list)]
    if missing:
        raise ValueError(f"{path}: {animal}: expected the lists {', '.join(need)}; missing or not lists: {missing}")
    n = len(entry["imgpath"])
    try:
        kp = np.asarray(entry["keypoints"], dtype=np.float64)
        bbox = np.asarray(entry["bbox"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: {animal}: keypoints and bbox must be numbers in [N, {k}, 3] and [N, 4]") \
            from None
    if kp.shape != (n, k, 3) or bbox.shape != (n, 4):
        raise ValueError(f"{path}: {animal}: keypoints {kp.shape} and bbox {bbox.shape} must be [N, {k}, 3] and "
                         f"[N, 4] for its N = {n} images")
    if not (np.isfinite(kp).all() and np.isfinite(bbox).all()):
        raise ValueError(f"{path}: {animal}: keypoints or bbox contain NaN or inf")
    names = []
    for p in entry["imgpath"]:
        if not isinstance(p, str) or not os.path.basename(p.replace("\\", "/")).endswith("img.png"):
            raise ValueError(f"{path}: {animal}: imgpath entries must be <name>img.png paths, got {str(p)[:80]!r}")
        names.append(os.path.basename(p.replace("\\", "/")))
    if split == "all":
        idx = np.arange(n)
    else:
        if split == "test":
            raise ValueError(f"split: {path} has train_idxs and valid_idxs only; got test")
        raw = entry[f"{split}_idxs"]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
            raise ValueError(f"{path}: {animal}: {split}_idxs must be whole numbers")
        idx = np.asarray(raw, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{path}: {animal}: {split}_idxs must lie in [0, {n})")
    return names, kp, bbox, idx


def _npy_kpts(path: str, vertices: tuple) -> np.ndarray:
    arr = read_npy(path)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.dtype.kind not in "iuf" or arr.shape[0] > MAX_VERTICES:
        raise ValueError(f"{path}: expected the projected mesh vertices [V, 3] (x, y, visibility), got "
                         f"{arr.dtype} of shape {arr.shape}")
    if arr.shape[0] <= max(vertices):
        raise ValueError(f"{path}: {arr.shape[0]} vertices, but the keypoints are vertices up to {max(vertices)}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: contains NaN or inf")
    return arr


def load_synanimal(root, size: int = 64, skeleton="tigdog18", *, animal: str = "all", split: str = "valid",
                   splits=None, visible: str = "release", keypoint_map=None, fill: float = 0.8,
                   max_items: int | None = None, annotations: str | None = None) -> ImagePoseDataset:
    """SynAnimal images of ``split`` as ``size`` px crops of ``skeleton``'s keypoints (see the module docstring);
    at most the first ``max_items``. ``annotations``: ``json`` (clean_data), ``npy`` (the per-image files) or None
    (the JSON when it exists)."""
    _check_common(animal, SYNANIMAL_ANIMALS, split, visible, max_items)
    if annotations not in (None, "json", "npy"):
        raise ValueError(f"annotations: expected json or npy, got {annotations!r}")
    skel = get_skeleton(skeleton)
    base = _synanimal_folder(root)
    dirs = _split_dirs(base, splits)
    chosen = ("horse", "tiger") if animal == "all" else (animal,)
    # UDAPE's hound/sheep JSON holds animal14's 14 keypoints, the horse/tiger one tigdog18's 18; the per-image files
    # give tigdog18's 18 vertices of every animal
    in_json = get_skeleton("animal14" if animal in ("hound", "sheep") else "tigdog18")
    json_file = os.path.join(base, "clean_data", f"keypoints_{in_json.num_joints}.json")
    use_json = annotations == "json" or (annotations is None and os.path.isfile(json_file))
    layout = in_json if use_json else get_skeleton("tigdog18")
    if use_json and not os.path.isfile(json_file):
        raise FileNotFoundError(f"{json_file}: not found (annotations=json)")
    doc = _read_json(json_file) if use_json else None
    rows, counts, lists = [], {}, {}
    for a in chosen:
        folder = os.path.join(base, "synthetic_animal", f"{a}_combineds5r5_texture")
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder (SynAnimal's {a} images"
                                    + ("; animal=all reads horse and tiger: name one, ?animal=..." if animal == "all"
                                       else "") + ")")
        none = 0
        if use_json:
            names, kp, bbox, idx = _json_animal(json_file, doc, a, layout.num_joints, split)
            lists[a] = json_file if split != "all" else None
            get = (lambda i, names=names, kp=kp, bbox=bbox:
                   (names[i], kp[i], np.array([bbox[i, 0], bbox[i, 2]]), np.array([bbox[i, 1], bbox[i, 3]])))
        else:
            names = sorted(n for n in os.listdir(folder) if n.endswith("img.png"))
            if not names:
                raise ValueError(f"{folder}: no <name>img.png images")
            if split == "all":
                idx = np.arange(len(names))
            else:
                lists[a] = _find_split(dirs, os.path.join("synthetic_animal", f"{a}_combineds5r5_texture",
                                                          f"{split}_idxs.npy"), f"the SynAnimal {a} {split} list")
                idx = read_split(lists[a], len(names), f"the images in {folder}")
            vertices = SYNANIMAL_VERTICES[a]

            def get(i, names=names, folder=folder, vertices=vertices):
                arr = _npy_kpts(os.path.join(folder, names[i][:-len("img.png")] + "kpts.npy"), vertices)
                return names[i], arr[list(vertices)], arr[:, :2].min(0), arr[:, :2].max(0)
        for i in idx.tolist():
            if max_items is not None and len(rows) >= max_items:
                break
            name, pts, lo, hi = get(i)
            file = os.path.join(folder, name)
            w, h = _image_size(file)
            x, y = pts[:, 0], pts[:, 1]
            labelled = (x >= 0) & (x <= w) & (y > 0) & (y <= h)
            if visible == "flag":
                labelled &= pts[:, 2] > 0
            if not labelled.any():
                none += 1
                continue
            frame = np.array([w, h], dtype=np.float64)
            rows.append((file, pts[:, :2], labelled, np.clip(lo, 0, frame), np.clip(hi, 0, frame),
                         f"{a}/{name}"))
        counts[f"{a}: {split} images with no keypoint in the frame"] = none
    where = f"synanimal:{base}"
    _report(where, counts)
    meta = {"source": "synanimal", "root": base, "animal": animal, "split": split, "split_files": lists,
            "annotations": "json" if use_json else "npy", "visible": visible,
            "left_out": {k: v for k, v in counts.items() if v}}
    return _crops(rows, layout, skel, keypoint_map, fill, size, where, meta)

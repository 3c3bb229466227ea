"""The files animal researchers have, read into crops of an animal keypoint layout (``posefast.skeleton``):
DeepLabCut projects and Lightning Pose folders (``dlc:<dir>``), unlabelled videos (``video:<file>``), and the names
COCO-format animal files (AP-10K, Animal-Pose converted to COCO) give their keypoints.

DeepLabCut (``dlc:<dir>``, or ``dlc:<file.csv|file.h5>``)
    * a DeepLabCut project: ``<dir>/config.yaml`` (its ``scorer``; ``bodyparts`` as a list) and
      ``<dir>/labeled-data/<video>/CollectedData_<scorer>.csv`` or ``.h5`` per video (the ``.csv`` is read when
      both exist). Image paths in the file are relative to the project folder.
    * the Lightning Pose layout: one ``<dir>/CollectedData.csv``, image paths relative to ``<dir>``.
    CSV: three header rows, ``scorer`` / ``bodyparts`` / ``coords`` (their first cells may be empty, as pandas
    writes unnamed levels; x, y; a ``likelihood`` column, as in DLC's
    predictions, is ignored), then one row per image: its path in one cell (``labeled-data/video/img.png``) or in
    three (``labeled-data``, ``video``, ``img.png``; newer DLC), then x, y per bodypart in pixels; an empty cell
    (or NaN) = not labelled. A multi-animal file (an ``individuals`` header row) is refused.
    H5: what DLC writes with ``DataFrame.to_hdf`` (pandas' "fixed" HDF5 layout through PyTables): read here with
    ``h5py`` as plain arrays (the column levels ``axis0_level*`` / ``axis0_label*``, the row index ``axis1`` or
    ``axis1_level*`` / ``axis1_label*``, the values ``block0_values``); nothing is unpickled (a file whose index
    was stored as pickled objects is refused), and every array's size is checked before it is read.

Which bodyparts are which keypoints: by default a bodypart is the layout's keypoint of the same name (snake case;
else through :data:`ANIMAL_NAME_ALIASES`); a keypoint map (``keypoint_map=``: ``{"bodypart": "keypoint"}``, the text
``"paw1LH_top=left_hind_paw,..."``, or a name of :data:`NAMED_KEYPOINT_MAPS`) says it explicitly. Bodyparts that map
to no keypoint are ignored and listed in ``meta["unmapped_bodyparts"]``; keypoints no bodypart maps to are
invisible (``meta["absent_keypoints"]``).

Crops: ``box="keypoints"`` (default) centres each image's crop on its labelled (mapped) keypoints, the longer side
of their box filling ``fill`` of the crop; ``box="fixed"`` uses one square for every image, the box of all labelled
keypoints of the file (a fixed camera, e.g. a lab rig: the crop an unlabelled video of the same rig gets too;
``meta["fixed_box"]``).

Video (``video:<file>``): frames decoded with PyAV (``av``), every ``stride``-th, cropped to a given square
(``box=(left, top, side)``, e.g. a labelled file's fixed box) or the whole frame's centred square; no keypoints
(visible 0): an unlabelled target domain.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import torch

from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.loaders import MAX_IMAGE_PIXELS, _crop, _open_rgb, _to_crop
from posefast.skeleton import get_skeleton

__all__ = ["ANIMAL_NAME_ALIASES", "NAMED_KEYPOINT_MAPS", "read_dlc_table", "load_dlc", "load_video_frames",
           "parse_keypoint_map", "find_dlc_files"]

# Other spellings of the animal layouts' keypoint names (snake case), e.g. mmpose's COCO conversions of
# Animal-Pose (L_EarBase, L_F_Paw, TailBase, ...) and AP-10K (Root of tail): name in a file -> posefast's name.
ANIMAL_NAME_ALIASES: dict[str, str] = {
    "l_eye": "left_eye", "r_eye": "right_eye", "l_earbase": "left_ear", "r_earbase": "right_ear",
    "l_ear": "left_ear", "r_ear": "right_ear", "tail_base": "tailbase", "l_shoulder": "left_shoulder",
    "r_shoulder": "right_shoulder", "l_elbow": "left_elbow", "r_elbow": "right_elbow", "l_hip": "left_hip",
    "r_hip": "right_hip", "l_knee": "left_knee", "r_knee": "right_knee", "root_of_tail": "root_of_tail",
    **{f"{s[0]}_{e[0]}_{part}": f"{s}_{e}_{part}" for s in ("left", "right") for e in ("front", "back")
       for part in ("elbow", "knee", "paw")},
}

# Named keypoint maps: bodypart (as the file spells it) -> keypoint of a layout.
NAMED_KEYPOINT_MAPS: dict[str, tuple[str, dict[str, str]]] = {
    # Lightning Pose's mirror-mouse example, side view (the _top bodyparts) -> mouse7.
    "mirror-mouse-top": ("mouse7", {"nose_top": "nose", "paw2LF_top": "left_front_paw",
                                    "paw3RF_top": "right_front_paw", "paw1LH_top": "left_hind_paw",
                                    "paw4RH_top": "right_hind_paw", "tailBase_top": "tail_base",
                                    "tailMid_top": "tail_mid"}),
    # the same mouse in the mirror below (the _bot bodyparts) -> mouse7.
    "mirror-mouse-bot": ("mouse7", {"nose_bot": "nose", "paw2LF_bot": "left_front_paw",
                                    "paw3RF_bot": "right_front_paw", "paw1LH_bot": "left_hind_paw",
                                    "paw4RH_bot": "right_hind_paw", "tailBase_bot": "tail_base",
                                    "tailMid_bot": "tail_mid"}),
}

MAX_ROWS = 1_000_000
MAX_COLUMNS = 30_000
MAX_CELL = 4096
MAX_TABLE_BYTES = 512 << 20


def _snake(name: str) -> str:
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def parse_keypoint_map(keypoint_map, flag: str = "keypoint_map") -> dict[str, str] | None:
    """``None``, a dict, a name of :data:`NAMED_KEYPOINT_MAPS` or ``"a=b,c=d"`` -> ``{bodypart: keypoint}``."""
    if keypoint_map is None or isinstance(keypoint_map, dict):
        return keypoint_map
    text = str(keypoint_map).strip()
    if text in NAMED_KEYPOINT_MAPS:
        return dict(NAMED_KEYPOINT_MAPS[text][1])
    pairs = {}
    for item in text.split(","):
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise ValueError(f"{flag}: expected a named map ({', '.join(NAMED_KEYPOINT_MAPS)}) or "
                             f"'bodypart=keypoint,...', got {keypoint_map!r}")
        if src.strip() in pairs:
            raise ValueError(f"{flag}: bodypart {src.strip()!r} mapped twice")
        pairs[src.strip()] = dst.strip()
    return pairs


# -- DeepLabCut tables ---------------------------------------------------------------------------------------------

def _read_csv_table(path: str) -> tuple[list, list, np.ndarray]:
    """``(image paths, bodyparts, xy [N, B, 2] with NaN = unlabelled)`` of a DLC CSV."""
    size = os.path.getsize(path)
    if size > MAX_TABLE_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than a labelled-data table posefast reads "
                         f"({MAX_TABLE_BYTES} bytes)")
    csv.field_size_limit(MAX_CELL)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: not a readable CSV ({e})") from e
    if len(rows) < 3 or not rows[0] or rows[0][0] not in ("scorer", ""):
        raise ValueError(f"{path}: not a DeepLabCut table (expected the header rows scorer / bodyparts / coords)")
    if rows[1] and rows[1][0] == "individuals":
        raise ValueError(f"{path}: a multi-animal DeepLabCut table (an 'individuals' row); posefast reads "
                         "single-animal tables")
    if not rows[1] or not rows[2] or rows[1][0] not in ("bodyparts", "") or rows[2][0] not in ("coords", ""):
        raise ValueError(f"{path}: the second and third header rows must start with 'bodyparts' and 'coords'")
    width = len(rows[0])
    if width > MAX_COLUMNS or len(rows) - 3 > MAX_ROWS:
        raise ValueError(f"{path}: {len(rows) - 3} rows x {width} columns is more than posefast reads")
    n_index = 1
    while n_index < width and rows[0][n_index] == "" and rows[2][n_index] == "":
        n_index += 1
    header_bp, header_coord = rows[1][n_index:], rows[2][n_index:]
    return _table(path, [r[:n_index] for r in rows[3:]], header_bp, header_coord,
                  [r[n_index:] for r in rows[3:]], width - n_index)


def _table(path, index_cells, header_bp, header_coord, value_rows, ncols):
    """Assemble a table from its cells: x and y columns per bodypart (likelihood columns dropped)."""
    bodyparts, cols = [], {}
    for c, (bp, coord) in enumerate(zip(header_bp, header_coord)):
        if coord not in ("x", "y", "likelihood"):
            raise ValueError(f"{path}: coords must be x, y (or likelihood), found {coord!r} in column {c}")
        if coord == "likelihood":
            continue
        if bp not in cols:
            bodyparts.append(bp)
            cols[bp] = {}
        if coord in cols[bp]:
            raise ValueError(f"{path}: bodypart {bp!r} has two {coord} columns")
        cols[bp][coord] = c
    for bp in bodyparts:
        if set(cols[bp]) != {"x", "y"}:
            raise ValueError(f"{path}: bodypart {bp!r} needs both an x and a y column")
    files, xy = [], np.full((len(value_rows), len(bodyparts), 2), np.nan)
    for r, (idx, vals) in enumerate(zip(index_cells, value_rows)):
        if len(vals) != ncols:
            raise ValueError(f"{path}: row {r + 4} has {len(vals) + len(idx)} cells, the header {ncols + len(idx)}")
        name = "/".join(str(s) for s in idx if str(s) != "")
        if not name:
            raise ValueError(f"{path}: row {r + 4} names no image")
        files.append(name)
        for b, bp in enumerate(bodyparts):
            for k, coord in enumerate("xy"):
                cell = vals[cols[bp][coord]]
                if isinstance(cell, str):
                    cell = cell.strip()
                    if cell == "":
                        continue
                try:
                    xy[r, b, k] = float(cell)
                except ValueError:
                    raise ValueError(f"{path}: row {r + 4}, bodypart {bp!r}: {coord} = {cell!r} is not a number") \
                        from None
    # one coordinate labelled without the other is no label
    missing = np.isnan(xy).any(-1)
    xy[missing] = np.nan
    if np.isinf(xy).any():
        raise ValueError(f"{path}: coordinates contain inf")
    return files, bodyparts, xy


def _h5_strings(ds, where: str) -> list:
    if ds.dtype.kind not in "SU":
        raise ValueError(f"{where}: stored as {ds.dtype} (pickled objects?), not fixed-width strings; posefast "
                         "does not unpickle")
    _check_size(ds, where)
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in ds[()].reshape(-1)]


def _check_size(ds, where: str) -> None:
    if ds.ndim > 2 or ds.size * ds.dtype.itemsize > MAX_TABLE_BYTES:
        raise ValueError(f"{where}: shape {ds.shape} of {ds.dtype} is more than a labelled-data table holds")


def _h5_axis(group, axis: str, where: str) -> list:
    """An axis of a pandas "fixed" frame: a list of tuples (multi) or of strings (regular)."""
    variety = group.attrs.get(f"{axis}_variety", b"regular")
    variety = variety.decode() if isinstance(variety, bytes) else str(variety)
    if variety == "regular":
        if axis not in group:
            raise ValueError(f"{where}: no '{axis}' array")
        return [(s,) for s in _h5_strings(group[axis], f"{where}/{axis}")]
    if variety != "multi":
        raise ValueError(f"{where}: unknown {axis} layout {variety!r}")
    nlevels = int(group.attrs.get(f"{axis}_nlevels", 0))
    if not 1 <= nlevels <= 8:
        raise ValueError(f"{where}: {axis} has {nlevels} levels")
    columns = []
    for lv in range(nlevels):
        for key in (f"{axis}_level{lv}", f"{axis}_label{lv}"):
            if key not in group:
                raise ValueError(f"{where}: no '{key}' array")
        levels = _h5_strings(group[f"{axis}_level{lv}"], f"{where}/{axis}_level{lv}")
        labels_ds = group[f"{axis}_label{lv}"]
        if labels_ds.dtype.kind not in "iu":
            raise ValueError(f"{where}/{axis}_label{lv}: expected integer codes, got {labels_ds.dtype}")
        _check_size(labels_ds, f"{where}/{axis}_label{lv}")
        labels = labels_ds[()].reshape(-1).astype(np.int64)
        if labels.size and (labels.min() < -1 or labels.max() >= len(levels)):
            raise ValueError(f"{where}/{axis}_label{lv}: codes outside its {len(levels)} levels")
        columns.append([levels[i] if i >= 0 else "" for i in labels])
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"{where}: the levels of {axis} differ in length")
    return list(zip(*columns))


def _read_h5_table(path: str) -> tuple[list, list, np.ndarray]:
    import h5py  # optional: the animal extra; only an .h5 file needs it

    try:
        return _read_h5_frame(path, h5py)
    except (OSError, KeyError, RuntimeError, TypeError, AttributeError) as e:  # h5py's errors on damaged files
        raise ValueError(f"{path}: not a readable DeepLabCut .h5 table ({type(e).__name__}: {e})") from e


def _read_h5_frame(path: str, h5py) -> tuple[list, list, np.ndarray]:
    try:
        fh = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e})") from e
    with fh:
        groups = [k for k in fh.keys() if isinstance(fh[k], h5py.Group)]
        if len(groups) != 1:
            raise ValueError(f"{path}: expected one DataFrame (DLC's 'df_with_missing' or 'keypoints'), found "
                             f"{groups}")
        g = fh[groups[0]]
        where = f"{path}: {groups[0]}"
        kind = g.attrs.get("pandas_type", b"")
        if (kind.decode() if isinstance(kind, bytes) else str(kind)) != "frame":
            raise ValueError(f"{where}: not a pandas DataFrame in the 'fixed' layout (pandas_type {kind!r})")
        if int(g.attrs.get("nblocks", 0)) != 1 or "block0_values" not in g:
            raise ValueError(f"{where}: expected one block of numbers (DLC's x / y table)")
        columns = _h5_axis(g, "axis0", where)
        index = _h5_axis(g, "axis1", where)
        items = _h5_axis(g, "block0_items", where)
        if items != columns:
            raise ValueError(f"{where}: the value block's columns differ from the frame's")
        values = g["block0_values"]
        if values.dtype.kind != "f":
            raise ValueError(f"{where}/block0_values: expected floats, got {values.dtype}")
        _check_size(values, f"{where}/block0_values")
        if values.shape != (len(index), len(columns)):
            raise ValueError(f"{where}/block0_values: shape {values.shape}, expected {(len(index), len(columns))}")
        data = values[()]
    if not columns or len(columns[0]) not in (3, 4):
        raise ValueError(f"{where}: the columns must have the levels scorer / bodyparts / coords")
    if len(columns[0]) == 4:
        raise ValueError(f"{where}: a multi-animal DeepLabCut table (an 'individuals' level); posefast reads "
                         "single-animal tables")
    return _table(path, [list(i) for i in index], [c[1] for c in columns], [c[2] for c in columns],
                  [list(r) for r in data], len(columns))


def read_dlc_table(path) -> tuple[list, list, np.ndarray]:
    """One DLC labelled-data file (``.csv`` or ``.h5``): ``(image paths as written, bodyparts, xy [N, B, 2])``,
    NaN where a bodypart is not labelled. Errors are ValueErrors starting with the path."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: labelled-data file not found")
    if path.endswith(".h5"):
        return _read_h5_table(path)
    if path.endswith(".csv"):
        return _read_csv_table(path)
    raise ValueError(f"{path}: expected a DeepLabCut .csv or .h5 file")


def _read_config(path: str) -> dict:
    import yaml

    if os.path.getsize(path) > (1 << 20):
        raise ValueError(f"{path}: more than 1 MiB, not a DeepLabCut config.yaml")
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not readable YAML ({e})") from e
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: expected a mapping")
    return cfg


def find_dlc_files(where) -> tuple[str, list[str]]:
    """``(root the image paths are relative to, labelled-data files)`` of a DLC project folder, a Lightning Pose
    folder, or one file (see the module docstring)."""
    where = os.path.abspath(os.fspath(where))
    if os.path.isfile(where):
        parent = os.path.dirname(where)
        grand = os.path.dirname(os.path.dirname(parent))
        root = grand if os.path.basename(os.path.dirname(parent)) == "labeled-data" else parent
        return root, [where]
    if not os.path.isdir(where):
        raise FileNotFoundError(f"{where}: no such folder or file")
    config = os.path.join(where, "config.yaml")
    if os.path.isfile(config):
        cfg = _read_config(config)
        scorer = cfg.get("scorer")
        if not isinstance(scorer, str) or not scorer:
            raise ValueError(f"{config}: no 'scorer'")
        labeled = os.path.join(where, "labeled-data")
        files = []
        for video in sorted(os.listdir(labeled)) if os.path.isdir(labeled) else []:
            base = os.path.join(labeled, video, f"CollectedData_{scorer}")
            for ext in (".csv", ".h5"):
                if os.path.isfile(base + ext):
                    files.append(base + ext)
                    break
        if not files:
            raise ValueError(f"{where}: a DeepLabCut project without labelled data "
                             f"(no labeled-data/<video>/CollectedData_{scorer}.csv or .h5)")
        return where, files
    single = os.path.join(where, "CollectedData.csv")
    if os.path.isfile(single):
        return where, [single]
    raise ValueError(f"{where}: neither a DeepLabCut project (config.yaml) nor a Lightning Pose folder "
                     "(CollectedData.csv)")


def _resolve_image(root: str, table_dir: str, name: str, where: str) -> str:
    for base in (root, table_dir):
        candidate = os.path.normpath(os.path.join(base, name))
        if os.path.commonpath([candidate, os.path.normpath(base)]) != os.path.normpath(base):
            raise ValueError(f"{where}: image path {name!r} leaves the project folder")
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"{where}: image {name!r} not found under {root}")


def _plan(bodyparts: list, skeleton, keypoint_map, where: str) -> tuple[np.ndarray, list, list]:
    """For each keypoint of ``skeleton``: the column (bodypart index) it reads (-1: none); the unmapped bodyparts;
    the keypoints no bodypart gives."""
    names = skeleton.joint_names
    src = np.full(len(names), -1)
    if keypoint_map is None:
        for b, bp in enumerate(bodyparts):
            name = _snake(bp) if _snake(bp) in names else ANIMAL_NAME_ALIASES.get(_snake(bp), _snake(bp))
            if name in names and src[names.index(name)] < 0:
                src[names.index(name)] = b
    else:
        unknown_bp = [bp for bp in keypoint_map if bp not in bodyparts]
        if unknown_bp:
            raise ValueError(f"keypoint_map: bodyparts {unknown_bp} are not in {where} (it has {bodyparts})")
        for bp, kp in keypoint_map.items():
            if kp not in names:
                raise ValueError(f"keypoint_map: {kp!r} is not a keypoint of {skeleton.name} ({list(names)})")
            if src[names.index(kp)] >= 0:
                raise ValueError(f"keypoint_map: two bodyparts map to {kp!r}")
            src[names.index(kp)] = bodyparts.index(bp)
    used = set(int(s) for s in src if s >= 0)
    return src, [bp for b, bp in enumerate(bodyparts) if b not in used], [n for k, n in enumerate(names)
                                                                          if src[k] < 0]


def _check_region(region):
    if region is None:
        return None
    r = tuple(float(v) for v in region)
    if len(r) != 4 or not (0 <= r[0] < r[2] <= 1 and 0 <= r[1] < r[3] <= 1):
        raise ValueError(f"region: expected (left, top, right, bottom) fractions of the frame with left < right and "
                         f"top < bottom, got {region!r}")
    return r


def _keep_region(image, region):
    """``image`` (PIL) with everything outside ``region`` (fractions of its size) black."""
    if region is None:
        return image
    from PIL import Image

    w, h = image.size
    box = (round(region[0] * w), round(region[1] * h), round(region[2] * w), round(region[3] * h))
    out = Image.new(image.mode, image.size)
    out.paste(image.crop(box), box[:2])
    return out


def _square(lo: np.ndarray, hi: np.ndarray, fill: float) -> tuple[int, int, int]:
    centre = (lo + hi) / 2
    side = max(float((hi - lo).max()) / fill, 8.0)
    return math.floor(centre[0] - side / 2), math.floor(centre[1] - side / 2), int(math.ceil(side))


def load_dlc(where, size: int = 64, skeleton="mouse7", *, keypoint_map=None, box: str = "keypoints",
             fill: float = 0.8, min_keypoints: int = 1, region=None) -> ImagePoseDataset:
    """Every labelled image of a DLC project / Lightning Pose folder / file as a ``size`` px crop of ``skeleton``'s
    keypoints (see the module docstring). Images with fewer than ``min_keypoints`` mapped, labelled keypoints are
    skipped (``meta["skipped"]``). ``region`` = (left, top, right, bottom) fractions of the frame: only that part
    of each image is kept (the rest black; keypoints outside it unlabelled), e.g. one view of a multi-view rig."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    if not 0 < fill <= 1:
        raise ValueError(f"fill: expected a fraction in (0, 1], got {fill!r}")
    if box not in ("keypoints", "fixed"):
        raise ValueError(f"box: expected 'keypoints' or 'fixed', got {box!r}")
    skel = get_skeleton(skeleton)
    region = _check_region(region)
    mapping = parse_keypoint_map(keypoint_map)
    root, tables = find_dlc_files(where)
    rows = []  # (image file, keypoints [K, 2] source pixels with NaN)
    unmapped, absent = None, None
    for table in tables:
        files, bodyparts, xy = read_dlc_table(table)
        src, un, ab = _plan(bodyparts, skel, mapping, table)
        unmapped = un if unmapped is None else [b for b in unmapped if b in un] + [b for b in un if b not in unmapped]
        absent = ab if absent is None else sorted(set(absent) & set(ab), key=skel.joint_names.index)
        kp = np.full((len(files), skel.num_joints, 2), np.nan)
        kp[:, src >= 0] = xy[:, src[src >= 0]]
        for name, k in zip(files, kp):
            rows.append((table, name, k))
    if region is not None:  # keypoints outside the kept part of the frame are not labelled there
        sizes = {}
        for i, (table, name, k) in enumerate(rows):
            file = _resolve_image(root, os.path.dirname(table), name, table)
            if file not in sizes:
                sizes[file] = _image_size(file)
            w, h = sizes[file]
            x, y = k[:, 0] / w, k[:, 1] / h
            out = ~((x >= region[0]) & (x < region[2]) & (y >= region[1]) & (y < region[3]))
            k = k.copy()
            k[out] = np.nan
            rows[i] = (table, name, k)
    labelled = [r for r in rows if int(np.isfinite(r[2][:, 0]).sum()) >= min_keypoints]
    skipped = [r[1] for r in rows if int(np.isfinite(r[2][:, 0]).sum()) < min_keypoints]
    if not labelled:
        raise ValueError(f"{where}: no image has {min_keypoints} or more labelled keypoints of {skel.name} "
                         f"(bodyparts not mapped: {unmapped}); pass a keypoint map")
    fixed = None
    if box == "fixed":
        pts = np.concatenate([r[2][np.isfinite(r[2][:, 0])] for r in labelled])
        fixed = _square(pts.min(0), pts.max(0), fill)
    images, kps, vis, boxes, files = [], [], [], [], []
    for table, name, k in labelled:
        file = _resolve_image(root, os.path.dirname(table), name, table)
        image = _keep_region(_open_rgb(file), region)
        have = np.isfinite(k[:, 0])
        b = fixed or _square(k[have].min(0), k[have].max(0), fill)
        k0 = np.where(have[:, None], k, 0.0)
        kc, vc = _to_crop(k0, have.astype(np.float64), b, size)
        centre = np.array([size / 2, size / 2])
        kc[~have] = centre  # unlabelled: a finite placeholder, never supervised or scored
        images.append(_crop(image, b, size))
        kps.append(kc)
        vis.append(vc)
        boxes.append(b)
        files.append(file)
    k = skel.num_joints
    return ImagePoseDataset(
        torch.stack(images), torch.as_tensor(np.array(kps, dtype=np.float32).reshape(-1, k, 2)),
        torch.as_tensor(np.array(vis, dtype=np.float32).reshape(-1, k)), skel.joint_names,
        {"source": "dlc", "files": tables, "skeleton": skel.name, "unmapped_bodyparts": unmapped or [],
         "absent_keypoints": absent or [], "skipped": skipped, "fixed_box": fixed, "region": region},
        {"files": files, "crop_boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 3)})


def _image_size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def load_video_frames(path, size: int = 64, skeleton="mouse7", *, box=None, stride: int | None = None,
                      max_frames: int | None = None, region=None) -> ImagePoseDataset:
    """Frames of a video (every ``stride``-th, at most ``max_frames``; without a stride, ``max_frames`` spread
    evenly over the video, or every frame) cropped to ``box`` = (left, top, side) in pixels (default: the frame's
    centred square) and resized to ``size``: an unlabelled domain of ``skeleton``'s keypoints (all invisible).
    ``region``: as :func:`load_dlc` (the rest of the frame black). Decoded with PyAV."""
    import av  # optional: the animal extra; only a video needs it
    from PIL import Image

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: video not found")
    if stride is not None and (not isinstance(stride, int) or stride < 1):
        raise ValueError(f"stride: expected a positive int, got {stride!r}")
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames: expected a positive int, got {max_frames!r}")
    skel = get_skeleton(skeleton)
    region = _check_region(region)
    frames = []
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            if stream.width * stream.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"{stream.width} x {stream.height} pixels, more than posefast reads")
            if stride is None:
                stride = max(1, int(stream.frames or 0) // max_frames) if max_frames else 1
            for i, frame in enumerate(container.decode(stream)):
                if max_frames is not None and len(frames) >= max_frames:
                    break
                if i % stride:
                    continue
                image = _keep_region(Image.fromarray(frame.to_ndarray(format="rgb24")), region)
                b = box
                if b is None:
                    side = min(image.width, image.height)
                    b = ((image.width - side) // 2, (image.height - side) // 2, side)
                frames.append(_crop(image, tuple(int(v) for v in b), size))
    except (av.error.FFmpegError, IndexError) as e:
        raise ValueError(f"{path}: not a readable video ({e})") from e
    if not frames:
        raise ValueError(f"{path}: no frames decoded")
    n, k = len(frames), skel.num_joints
    return ImagePoseDataset(torch.stack(frames), torch.full((n, k, 2), size / 2), torch.zeros(n, k),
                            skel.joint_names, {"source": "video", "file": path, "stride": stride,
                                               "box": None if box is None else tuple(box), "skeleton": skel.name,
                                               "region": region},
                            {"frame": torch.arange(n) * stride})

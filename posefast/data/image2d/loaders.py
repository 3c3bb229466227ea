"""Loaders for real 2D pose data into ImagePoseDataset: LSP / LSP-extended and COCO-style keypoint JSON.

Every sample becomes a square crop around the person, resized to ``size`` x ``size``: the person box (from the
annotation's ``bbox`` or the keypoints) is centred and its longer side fills ``fill`` of the crop; parts of the
crop outside the photo are black. Keypoints are mapped to the crop's pixel frame (pixel (i, j) covers
[j, j + 1) x [i, i + 1)); coordinates are taken as given by the dataset (no half-pixel shift), an ambiguity of
at most 0.5 source pixels, well under a crop pixel after the usual downscaling. ``extras["crop_boxes"]``
holds (left, top, side) of each crop in source pixels, to map predictions back; ``extras["files"]`` the images.

``visible`` is 1 only for keypoints annotated as visible (not occluded) and inside the crop - the same meaning
as in the synthetic domains, and what UDAPE / TLlib use as LSP's target weight.

Formats (checked against the public code that reads them, e.g. TLlib's LSP dataset):
  * LSP (Johnson & Everingham, BMVC 2010): ``joints.mat`` with ``joints`` of shape 3 x 14 x N - rows x, y and
    an *occlusion* flag (1 = occluded, so visible = 1 - flag); images ``images/im0001.jpg`` ... (1-based, 4
    digits).
  * LSP-extended (CVPR 2011): ``joints`` of shape 14 x 3 x N - columns x, y and a *visibility* flag
    (1 = visible); images ``images/im00001.jpg`` ... (5 digits).
  LSP's 14 joints map to Body16 (``keypoints.LSP14_TO_BODY16``); pelvis and thorax are not annotated, so they
  get the mid-hip / mid-shoulder point with visible 0.
  * COCO keypoints: ``{"images": [{"id", "file_name"}], "annotations": [{"image_id", "keypoints":
    [x1, y1, v1, ...], "bbox"?: [x, y, w, h], "iscrowd"?, "category_id"?}], "categories": [{"id"?,
    "keypoints": [names]}]}`` with v = 0 not labelled, 1 labelled but occluded, 2 visible (visible = v == 2).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.keypoints import BODY16_NAMES, LSP14_TO_BODY16
from posefast.data.mat_files import read_mat
from posefast.data.safe_files import read_json

__all__ = ["load_lsp", "load_coco_keypoints", "keypoint_triplets"]

# Body16 keypoints that a loader may build as the midpoint of two annotated ones, marked not visible.
_DERIVED = {"pelvis": ("left_hip", "right_hip"), "thorax": ("left_shoulder", "right_shoulder")}


# A photo of people is well below this (a 8K frame is 33 M pixels); a header declaring more is refused before its
# pixels are decoded, so a few bytes cannot ask for gigabytes.
MAX_IMAGE_PIXELS = 50_000_000


def _open_rgb(path: str):
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:  # checked on the header, before any pixel is decoded
                raise ValueError(f"{im.width} x {im.height} pixels, more than posefast reads "
                                 f"({MAX_IMAGE_PIXELS} pixels)")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from e


def _square_box(points: np.ndarray, fill: float, bbox=None) -> tuple[int, int, int]:
    """(left, top, side) of the integer square crop: the box (bbox [x, y, w, h] if given, else the points' box)
    centred, its longer side = fill * side."""
    if bbox is not None:
        x, y, bw, bh = bbox
        lo, hi = np.array([x, y]), np.array([x + bw, y + bh])
    else:
        lo, hi = points.min(0), points.max(0)
    centre = (lo + hi) / 2
    side = max(float((hi - lo).max()) / fill, 8.0)  # a box of one point still gets a usable crop
    left, top = math.floor(centre[0] - side / 2), math.floor(centre[1] - side / 2)
    return left, top, int(math.ceil(side))


def _crop(image, box: tuple[int, int, int], size: int) -> torch.Tensor:
    """PIL RGB image -> float32 [3, size, size] in [0, 1]: crop (outside = black) and antialiased resize."""
    from PIL import Image

    left, top, side = box
    patch = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(patch, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def _to_crop(xy: np.ndarray, vis: np.ndarray, box, size: int):
    """Keypoints [K, 2] in source pixels -> crop pixels, and visibility cleared outside the crop."""
    left, top, side = box
    out = (xy - np.array([left, top])) * (size / side)
    inside = (out >= 0).all(-1) & (out < size).all(-1)
    return out, vis * inside


def _check_args(size, fill):
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8:
        raise ValueError(f"size: expected an int >= 8, got {size!r}")
    if not 0 < fill <= 1:
        raise ValueError(f"fill: expected a fraction in (0, 1], got {fill!r}")


def _read_lsp_joints(path: str):
    """-> (xy [N, 14, 2], visible [N, 14], layout) from an LSP or LSP-extended joints.mat (read by posefast's own
    MATLAB reader: ``scipy.io.loadmat`` can crash the interpreter on a damaged file)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: joints file not found")
    mat = read_mat(path)
    if "joints" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: no 'joints' variable (found {keys})")
    j = mat["joints"]
    if not isinstance(j, np.ndarray) or j.dtype.kind not in "iuf":
        raise ValueError(f"{path}: 'joints' must be an array of real numbers, got {type(j).__name__} "
                         f"{getattr(j, 'dtype', '')}")
    j = j.astype(np.float64)
    if j.ndim == 2:  # MATLAB drops a trailing singleton: a single sample
        j = j[..., None]
    if j.ndim != 3:
        raise ValueError(f"{path}: 'joints' must be 3 x 14 x N (LSP) or 14 x 3 x N (LSP-extended), got {j.shape}")
    if j.shape[:2] == (3, 14):
        xy, flag, layout = j[:2].transpose(2, 1, 0), j[2].T, "lsp"
        visible = 1 - flag  # LSP stores an occlusion flag
    elif j.shape[:2] == (14, 3):
        xy, flag, layout = j[:, :2].transpose(2, 0, 1), j[:, 2].T, "lspet"
        visible = flag
    else:
        raise ValueError(f"{path}: 'joints' must be 3 x 14 x N (LSP) or 14 x 3 x N (LSP-extended), got {j.shape}")
    if not np.isin(flag, (0, 1)).all():
        raise ValueError(f"{path}: the joint flags must be 0 or 1, found {np.unique(flag)[:5]}")
    if not np.isfinite(xy).all():
        raise ValueError(f"{path}: joint coordinates contain NaN or inf")
    return xy, visible, layout


def load_lsp(root, size: int = 64, *, fill: float = 0.8, indices=None, joints_file: str = "joints.mat",
             image_dir: str = "images", image_pattern: str | None = None) -> ImagePoseDataset:
    """Load LSP or LSP-extended (layout detected from the shape of ``joints``) into Body16 person crops.

    Args:
        root: folder holding ``joints_file`` and ``image_dir``.
        size: crop side in pixels.
        fill: fraction of the crop the person box's longer side spans.
        indices: 0-based sample indices to load (default: all); image i is ``image_pattern % (i + 1)``.
        image_pattern: file-name pattern; default ``im%04d.jpg`` (LSP) or ``im%05d.jpg`` (LSP-extended).

    The person box is the box of the joints that lie inside the photo (LSP annotates occluded joints too;
    LSP-extended's unannotated joints can sit outside it).
    """
    _check_args(size, fill)
    root = os.fspath(root)
    jpath = os.path.join(root, joints_file)
    xy, visible, layout = _read_lsp_joints(jpath)
    n_all = xy.shape[0]
    pattern = image_pattern or ("im%04d.jpg" if layout == "lsp" else "im%05d.jpg")
    idx = np.arange(n_all) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n_all):
        raise ValueError(f"indices: must lie in [0, {n_all}) for {jpath}, got range [{idx.min()}, {idx.max()}]")

    lsp_of = np.array(LSP14_TO_BODY16)
    known = lsp_of >= 0
    names = list(BODY16_NAMES)
    images, kps, vis, boxes, files = [], [], [], [], []
    for i in idx:
        path = os.path.join(root, image_dir, pattern % (i + 1))
        image = _open_rgb(path)
        w, h = image.size
        pts = xy[i]
        in_photo = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        if in_photo.sum() < 2:
            raise ValueError(f"{jpath}: sample {i} ({path}) has fewer than 2 joints inside its {w}x{h} image")
        box = _square_box(pts[in_photo], fill)
        k16 = np.zeros((16, 2))
        v16 = np.zeros(16)
        k16[known], v16[known] = pts[lsp_of[known]], visible[i][lsp_of[known]]
        for name, (a, b) in _DERIVED.items():
            k16[names.index(name)] = 0.5 * (k16[names.index(a)] + k16[names.index(b)])
        k_crop, v_crop = _to_crop(k16, v16, box, size)
        images.append(_crop(image, box, size))
        kps.append(k_crop)
        vis.append(v_crop)
        boxes.append(box)
        files.append(path)
    return _dataset(images, kps, vis, BODY16_NAMES, size, boxes, {"source": layout, "joints_file": jpath},
                    {"files": files, "indices": torch.as_tensor(idx, dtype=torch.int64)})


def _dataset(images, kps, vis, names, size, boxes, meta, extras) -> ImagePoseDataset:
    k = len(names)
    extras["crop_boxes"] = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 3)
    return ImagePoseDataset(
        torch.stack(images) if images else torch.empty(0, 3, size, size),
        torch.as_tensor(np.array(kps, dtype=np.float32).reshape(-1, k, 2)),
        torch.as_tensor(np.array(vis, dtype=np.float32).reshape(-1, k)), tuple(names), meta, extras)


def keypoint_triplets(raw, k: int, where: str) -> np.ndarray:
    """COCO's flat ``[x1, y1, v1, ..., xk, yk, vk]`` as float64 ``[k, 3]``; else a ValueError starting ``where``."""
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: 'keypoints' must be numbers ({e})") from None
    if arr.shape != (3 * k,):
        raise ValueError(f"{where}: 'keypoints' must hold 3 x {k} numbers (x, y, flag or score), got shape "
                         f"{arr.shape}")
    return arr.reshape(k, 3)


def _snake(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _find_image(file_name, folders: list, where: str) -> str:
    """The first of ``folder/file_name`` that exists; else an error naming the image and every folder tried."""
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f"{where}: the image's 'file_name' must be a non-empty string, got {file_name!r}")
    for folder in folders:
        candidate = os.path.join(folder, file_name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"{where}: image {file_name!r} not found in {' or '.join(folders)}")


def _require(obj: dict, key: str, where: str, path: str):
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{path}: {where} has no '{key}' field")
    return obj[key]


@dataclass(frozen=True)
class _KeypointPlan:
    """Where each requested keypoint ``names[k]`` comes from: file keypoint ``src[k]`` (``-1``: none), the midpoint
    of two file keypoints (``derived``: ``{k: (a, b)}``), or nowhere (``absent`` names: the crop centre, visible 0)."""

    names: list
    src: np.ndarray
    derived: dict
    absent: list


def _read_coco_json(path: str) -> dict:
    """Parse: the annotation file's top-level JSON object."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: annotation file not found")
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: the top level must be a JSON object")
    return doc


def _coco_category(doc: dict, category_id, path: str) -> tuple[object, list]:
    """Validate: ``(category id, its keypoint names in snake case)`` of the requested (default: first) category."""
    cats = _require(doc, "categories", "the top level", path)
    if not isinstance(cats, list) or not cats:
        raise ValueError(f"{path}: 'categories' must be a non-empty list")
    if category_id is None:
        cat = cats[0]
    else:
        found = [c for c in cats if isinstance(c, dict) and c.get("id") == category_id]
        if not found:
            raise ValueError(f"{path}: no category with id {category_id}")
        cat = found[0]
    file_names = _require(cat, "keypoints", "the category", path)
    if not isinstance(file_names, list) or not all(isinstance(s, str) for s in file_names) or not file_names:
        raise ValueError(f"{path}: the category's 'keypoints' must be a non-empty list of names")
    return cat.get("id"), [_snake(nm) for nm in file_names]


def _keypoint_plan(file_names: list, keypoint_names, missing: str, path: str) -> _KeypointPlan:
    """Validate: match the requested names against the file's (``None``: the file's own list)."""
    names = list(file_names) if keypoint_names is None else list(keypoint_names)
    src = np.array([file_names.index(nm) if nm in file_names else -1 for nm in names])
    derived = {k: _DERIVED[nm] for k, nm in enumerate(names)
               if src[k] < 0 and nm in _DERIVED and all(p in file_names for p in _DERIVED[nm])}
    absent = [nm for k, nm in enumerate(names) if src[k] < 0 and k not in derived]
    if absent and missing == "error":
        raise ValueError(f"{path}: keypoints {absent} are not in the category's keypoints {file_names} "
                         f"(pass missing='invisible' to return them with visible 0)")
    return _KeypointPlan(names, src, derived, absent)


def _coco_lists(doc: dict, path: str) -> tuple[dict, list]:
    """Validate: ``({image id: file name}, annotations)``."""
    images_by_id = {}
    image_list = _require(doc, "images", "the top level", path)
    if not isinstance(image_list, list):
        raise ValueError(f"{path}: 'images' must be a list")
    for im in image_list:
        images_by_id[_require(im, "id", "an image entry", path)] = _require(im, "file_name", "an image entry", path)
    anns = _require(doc, "annotations", "the top level", path)
    if not isinstance(anns, list):
        raise ValueError(f"{path}: 'annotations' must be a list")
    return images_by_id, anns


def _annotation(ann, where: str, k_file: int, images_by_id: dict, min_keypoints: int, fill: float, path: str):
    """Validate one (non-crowd, right-category) annotation: ``(keypoints [k_file, 3], crop box)``, or None when it
    is skipped (fewer than ``min_keypoints`` labelled, or nothing to place a box on)."""
    arr = keypoint_triplets(_require(ann, "keypoints", where, path), k_file, f"{path}: {where}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: {where}: 'keypoints' contain NaN or inf")
    v = arr[:, 2]
    if not np.isin(v, (0, 1, 2)).all():
        raise ValueError(f"{path}: {where}: visibility flags must be 0, 1 or 2, found {np.unique(v)}")
    if (v > 0).sum() < min_keypoints:
        return None
    image_id = _require(ann, "image_id", where, path)
    if image_id not in images_by_id:
        raise ValueError(f"{path}: {where}: image_id {image_id!r} is not in 'images'")
    bbox = ann.get("bbox")
    if bbox is not None:
        bbox = np.asarray(bbox, dtype=np.float64)
        if bbox.shape != (4,) or not np.isfinite(bbox).all():
            raise ValueError(f"{path}: {where}: 'bbox' must be [x, y, w, h], got {ann.get('bbox')!r}")
        if bbox[2] <= 0 or bbox[3] <= 0:
            bbox = None  # an empty box carries no extent: fall back to the keypoints
    if bbox is None and not (v > 0).any():
        return None
    return arr, _square_box(arr[v > 0, :2], fill, None if bbox is None else bbox.tolist())


def _requested_keypoints(arr: np.ndarray, plan: _KeypointPlan, file_names: list, box) -> tuple:
    """Assemble: the requested keypoints ``[K, 2]`` (source pixels) and visibility ``[K]`` of one annotation."""
    v = arr[:, 2]
    kp = np.zeros((len(plan.names), 2))
    kv = np.zeros(len(plan.names))
    have = plan.src >= 0
    kp[have], kv[have] = arr[plan.src[have], :2], (v[plan.src[have]] == 2).astype(np.float64)
    for k, (a, b) in plan.derived.items():
        kp[k] = 0.5 * (arr[file_names.index(a), :2] + arr[file_names.index(b), :2])
    for nm in plan.absent:
        left, top, side = box
        kp[plan.names.index(nm)] = (left + side / 2, top + side / 2)
    return kp, kv


def load_coco_keypoints(annotation_file, image_dir, size: int = 64, *, keypoint_names=BODY16_NAMES,
                        missing: str = "error", fill: float = 0.8, min_keypoints: int = 1,
                        category_id: int | None = None, aliases: dict | None = None) -> ImagePoseDataset:
    """Load a COCO-style keypoint JSON and its image folder into person crops, one per annotation.

    Args:
        annotation_file: the JSON file (format in the module docstring).
        image_dir: folder the images' ``file_name`` are relative to, or a list of folders tried in order (a file
            found in none is an error naming it and the folders).
        size: crop side in pixels.
        fill: the fraction of the crop the person box's longer side spans; the box is the annotation's ``bbox``
            when present, else the box of its labelled keypoints.
        keypoint_names: the keypoints to return, matched by name against the category's ``keypoints``
            (case, spaces and hyphens aside: ``Left Shoulder`` is ``left_shoulder``); ``None`` keeps the file's own
            list. "pelvis" and "thorax", if absent, are built as hip / shoulder
            midpoints with visible 0.
        missing: what to do with requested names neither in the file nor derivable: "error" (default) or
            "invisible" (visible 0, coordinates at the crop centre), e.g. Body16's upper_neck and head_top
            from COCO-17.
        min_keypoints: skip annotations with fewer labelled (v > 0) keypoints; crowd annotations are skipped.
        category_id: the person category to read (default: the first category).
        aliases: other spellings of keypoint names (snake case, file name -> requested name) applied to the file's
            names that are not requested as they stand, e.g. ``l_f_paw`` -> ``left_front_paw`` for the animal layouts.
    """
    _check_args(size, fill)
    if missing not in ("error", "invisible"):
        raise ValueError(f"missing: expected 'error' or 'invisible', got {missing!r}")
    path = os.fspath(annotation_file)
    doc = _read_coco_json(path)
    cat_id, file_names = _coco_category(doc, category_id, path)
    if aliases:
        wanted = set(file_names if keypoint_names is None else keypoint_names)
        file_names = [nm if nm in wanted else aliases.get(nm, nm) for nm in file_names]
    image_dirs = ([os.fspath(image_dir)] if isinstance(image_dir, (str, os.PathLike))
                  else [os.fspath(d) for d in image_dir])
    plan = _keypoint_plan(file_names, keypoint_names, missing, path)
    images_by_id, anns = _coco_lists(doc, path)

    cache: dict[str, object] = {}
    images, kps, vis, boxes, files, ann_ids = [], [], [], [], [], []
    for a_i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise ValueError(f"{path}: annotation #{a_i} must be a JSON object")
        ann_id = ann.get("id", a_i)
        where = f"annotation {ann_id!r}"
        if ann.get("iscrowd", 0) == 1 or (cat_id is not None and ann.get("category_id", cat_id) != cat_id):
            continue
        found = _annotation(ann, where, len(file_names), images_by_id, min_keypoints, fill, path)
        if found is None:
            continue
        arr, box = found
        kp, kv = _requested_keypoints(arr, plan, file_names, box)
        file = _find_image(images_by_id[ann["image_id"]], image_dirs, f"{path}: {where}")
        if file not in cache:
            cache = {file: _open_rgb(file)}  # annotations of one image are usually adjacent
        k_crop, v_crop = _to_crop(kp, kv, box, size)
        images.append(_crop(cache[file], box, size))
        kps.append(k_crop)
        vis.append(v_crop)
        boxes.append(box)
        files.append(file)
        ann_ids.append(ann_id)
    return _dataset(images, kps, vis, plan.names, size, boxes,
                    {"source": "coco", "annotation_file": path, "absent_keypoints": plan.absent,
                     "derived_keypoints": [plan.names[k] for k in plan.derived]},
                    {"files": files, "annotation_ids": ann_ids})

"""Animal data specs, in a keypoint layout of the ``Skeleton`` registry: ``synthetic-animal:<dog|rodent>[-real]``
(rendered, ``posefast.data.image2d.animal_domains``), ``dlc:<DeepLabCut project | Lightning Pose folder | table>``
and ``video:<file>`` (``posefast.data.image2d.animal_files``), ``coco:<annotations.json>`` with an animal layout
(AP-10K, Animal-Pose converted to COCO: keypoints matched by name, through ``ANIMAL_NAME_ALIASES``; images next to
the JSON or in its ``images/`` folder), and TigDog and SynAnimal as UDAPE / UDA-Animal-Pose store them,
``tigdog:<dir>[?animal=horse&split=valid...]`` and ``synanimal:<dir>[?...]``
(``posefast.data.image2d.animal_releases``).

A rendered animal has its own layout (dog: tigdog18, rodent: mouse7); asked for another one it is mapped through
``posefast.skeleton.KEYPOINT_MAPS`` (e.g. tigdog18 -> animal14, UDAPE's Animal-Pose keypoints), keypoints the map
lacks invisible.
"""
from __future__ import annotations

import os

import torch

from posefast.data.image2d.animal_domains import ANIMAL_SPEC_PREFIX, animal_spec, make_animal_domain
from posefast.data.image2d.animal_files import ANIMAL_NAME_ALIASES, load_dlc, load_video_frames
from posefast.data.image2d.animal_releases import RELEASE_KINDS, load_release_spec, parse_release_spec
from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.loaders import load_coco_keypoints
from posefast.skeleton import get_skeleton, keypoint_map

__all__ = ["ANIMAL_SPEC_KINDS", "LABELLED_SOURCE_KINDS", "animal_spec_kind", "load_animal_spec", "remap_layout",
           "same_animal_spec"]

ANIMAL_SPEC_KINDS = (ANIMAL_SPEC_PREFIX, "dlc", "video", "coco", *RELEASE_KINDS)
# what a task's labelled source may be: rendered crops, or SynAnimal's rendered images (its train split)
LABELLED_SOURCE_KINDS = (ANIMAL_SPEC_PREFIX, "synanimal")


def animal_spec_kind(spec: str, flag: str = "target") -> str:
    """The kind of an animal spec; anything else is a ValueError naming ``flag``."""
    prefix, sep, rest = str(spec).partition(":")
    if sep and rest and prefix in ANIMAL_SPEC_KINDS:
        if prefix == ANIMAL_SPEC_PREFIX:
            animal_spec(spec, flag)
        elif prefix in RELEASE_KINDS:
            parse_release_spec(spec, flag)
        return prefix
    raise ValueError(f"{flag}: expected synthetic-animal:<dog|rodent>[-real], dlc:<folder or table>, "
                     f"video:<file>, coco:<annotations.json>, tigdog:<dir> or synanimal:<dir>, got {spec!r}")


def same_animal_spec(a: str, b: str) -> bool:
    """Whether two animal specs name the same data: one kind, the same file or folder (paths compared resolved, so
    ``dlc:../data/mouse`` and ``dlc:/abs/data/mouse`` agree) and the same options."""
    if not a or not b:
        return False
    kind_a, _, rest_a = str(a).partition(":")
    kind_b, _, rest_b = str(b).partition(":")
    if kind_a != kind_b or kind_a not in ANIMAL_SPEC_KINDS:
        return False
    if kind_a == ANIMAL_SPEC_PREFIX:
        return rest_a == rest_b
    if kind_a in RELEASE_KINDS:
        (_, path_a, opt_a), (_, path_b, opt_b) = parse_release_spec(a), parse_release_spec(b)
        return os.path.realpath(path_a) == os.path.realpath(path_b) and opt_a == opt_b
    return os.path.realpath(rest_a) == os.path.realpath(rest_b)


def remap_layout(data: ImagePoseDataset, skeleton) -> ImagePoseDataset:
    """``data`` in another layout through ``keypoint_map(data's layout, skeleton)``; unmapped keypoints invisible."""
    skel = get_skeleton(skeleton)
    source = data.meta.get("skeleton")
    if source == skel.name:
        return data
    table = torch.as_tensor(keypoint_map(source, skel))
    have = table >= 0
    kp = torch.full((len(data), skel.num_joints, 2), float(data.images.shape[-1]) / 2)
    vis = torch.zeros(len(data), skel.num_joints)
    kp[:, have], vis[:, have] = data.keypoints[:, table[have]], data.visible[:, table[have]]
    meta = {**data.meta, "skeleton": skel.name, "mapped_from": source}
    return ImagePoseDataset(data.images, kp, vis, skel.joint_names, meta, dict(data.extras))


def load_animal_spec(spec: str, size: int, skeleton, *, n: int | None = None, seed: int = 0, keypoint_map=None,
                     box=None, fill: float = 0.8, region=None, split: str | None = None,
                     flag: str = "target") -> ImagePoseDataset:
    """Crops of an animal spec in ``skeleton``'s layout. ``n``: crops to render (synthetic, required) or the most
    to read (files: the first ``n``); ``seed``: the synthetic draw; ``keypoint_map`` / ``fill`` / ``box`` as
    :func:`~posefast.data.image2d.animal_files.load_dlc` (``box``: "keypoints" or "fixed" there; for a video the
    crop square (left, top, side)); ``region``: the part of each frame kept (``dlc:`` and ``video:``); ``split``:
    the split list of a ``tigdog:`` / ``synanimal:`` spec that names none (default ``valid``; their crops are the
    releases' boxes, so ``box`` does not apply to them)."""
    kind = animal_spec_kind(spec, flag)
    skel = get_skeleton(skeleton)
    path = str(spec).partition(":")[2]
    if kind in RELEASE_KINDS:
        if region is not None:
            raise ValueError(f"{flag}: region: {kind}: frames are cropped whole, as the releases crop them")
        return load_release_spec(spec, size, skel, split=split, keypoint_map=keypoint_map, fill=fill, max_items=n,
                                 flag=flag)
    if kind == ANIMAL_SPEC_PREFIX:
        if n is None:
            raise ValueError(f"{flag}: a rendered spec needs a number of crops")
        animal, style = animal_spec(spec, flag)
        return remap_layout(make_animal_domain(animal, style, n, size, seed), skel)
    if kind == "dlc":
        data = load_dlc(path, size, skel, keypoint_map=keypoint_map, box=box or "keypoints", fill=fill, region=region)
    elif kind == "video":
        data = load_video_frames(path, size, skel, box=box, max_frames=n, region=region)
    else:
        folder = os.path.dirname(os.path.abspath(path))
        data = load_coco_keypoints(path, [folder, os.path.join(folder, "images")], size,
                                   keypoint_names=skel.joint_names, missing="invisible", fill=fill,
                                   aliases=ANIMAL_NAME_ALIASES)
        data.meta["skeleton"] = skel.name
    return data.subset(slice(0, n)) if n is not None and n < len(data) else data

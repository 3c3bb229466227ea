"""``python -m posefast.evaluate`` for a multilevel run: one stage checkpoint (``RUN/<variant>/checkpoint.pt``) on
2D keypoint data — ``coco:<annotations.json>``, ``lsp:<dir>`` or ``synthetic`` for a human (Body16) run; for an
animal run (``multilevel.skeleton`` an animal layout) ``coco:``, ``dlc:``, ``video:``, ``tigdog:``, ``synanimal:``
or ``synthetic-animal:...`` in its layout — scored with PCK@0.05 overall, per keypoint and per keypoint group by
:func:`~posefast.evaluation.heatmap2d.evaluate_pck`, with the network the run itself evaluated (the EMA teacher of
an adapted variant, the student of source-only and pretraining)."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from posefast.data.image2d import image_spec_kind, load_image_spec, make_domain
from posefast.data.image2d.animal_files import parse_keypoint_map
from posefast.data.image2d.animal_specs import animal_spec_kind, load_animal_spec, same_animal_spec
from posefast.engine import checkpoint as ckpt
from posefast.evaluation.heatmap2d import evaluate_pck, skeleton_eval_joints
from posefast.methods.multilevel import animal
from posefast.methods.multilevel.image_domains import load_target_splits
from posefast.methods.multilevel.stage import build_pose_net
from posefast.seeds import derive_seed
from posefast.skeleton import Skeleton, get_skeleton

__all__ = ["load_pose_net", "load_eval_images", "evaluate_checkpoint", "report_2d", "run_skeleton"]


def run_skeleton(settings: dict) -> Skeleton:
    """The keypoint layout of a multilevel run: its settings' ``skeleton`` (an animal task's; runs made before it
    existed, and human runs: Body16)."""
    return get_skeleton(settings.get("skeleton") or settings["multilevel"].get("skeleton") or "body16")


def load_pose_net(state: dict, device="cpu"):
    """The evaluated network of a multilevel stage checkpoint, in eval mode."""
    with ckpt.applying("--checkpoint", "not a multilevel stage this posefast can load"):
        return _load_pose_net(state, device)


def _load_pose_net(state: dict, device):
    ml = SimpleNamespace(**state["settings"]["multilevel"])
    ml.backbone_weights = ""  # the checkpoint holds every weight; the ImageNet file need not exist here
    net = build_pose_net(ml, run_skeleton(state["settings"]).num_joints, imagenet=False)
    stage = state["stage"]
    if stage.get("teacher") is not None:  # EMATeacher's state: the teacher network's under "teacher."
        weights = {k[len("teacher."):]: v for k, v in stage["teacher"].items() if k.startswith("teacher.")}
    else:
        weights = stage["student"]
    net.load_state_dict(weights)
    return net.to(device).eval()


def load_eval_images(state: dict, spec: str, split: str | None = None, n: int | None = None, keypoint_map=None):
    """``(ImagePoseDataset, what)`` to score a stage on: the run's own target test split when ``spec`` is its
    ``multilevel.target`` (so the numbers equal the stage's ``metrics.json``), else every crop of the file (``n``
    synthetic crops for ``synthetic``). ``split`` (``train``/``test``/``all``) picks the run's split of its own
    target; ``n`` replaces ``n_test`` (or ``n_target`` for ``train``). An animal run reads ``spec`` in its layout
    (``keypoint_map``: which bodyparts of a ``dlc:`` file are which keypoints)."""
    settings = state["settings"]
    ml = SimpleNamespace(**settings["multilevel"])
    seed = int(settings["seed"])
    if split not in (None, "train", "test", "all"):
        raise ValueError(f"--split: expected train, test or all, got {split!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"--n: expected a positive int, got {n!r}")
    skeleton = run_skeleton(settings)
    if skeleton.name != "body16":
        animal_spec_kind(spec, "--data")
        crops = {"keypoint_map": keypoint_map}
        if "animal" in settings and getattr(ml, "task", "human") != "human":
            run = SimpleNamespace(multilevel=ml, animal=SimpleNamespace(**settings["animal"]))
            task = animal.task_of(run)
            own = any(same_animal_spec(spec, s) for s in (task.target, task.test))
            if own and keypoint_map is not None and parse_keypoint_map(keypoint_map) != parse_keypoint_map(
                    task.keypoint_map):
                raise ValueError(f"--keypoint-map: {spec} is the run's own target, read through its map "
                                 f"({task.keypoint_map or 'by name'}); leave --keypoint-map out")
            if own and split != "all":
                _, n_target, n_test = animal.animal_counts(run)
                part = split or "test"
                if n is not None:
                    n_target, n_test = (n_target, n) if part == "test" else (n, n_test)
                target, test = animal.load_target_splits(task, n_target, n_test, ml.image_size, seed)
                return (test if part == "test" else target), f"the run's target {part} split"
            if own and animal_spec_kind(spec) != "video":  # all of the run's own labelled file, cropped as it is
                crops = {"keypoint_map": task.keypoint_map, "box": task.box, "fill": task.fill,
                         "region": animal.region_for(task, spec)}
        count = n or (settings.get("animal", {}).get("n_test") if spec.startswith("synthetic-animal:") else None)
        # a release dataset's lists: --split test (default) = its valid list, train = its train list
        release_split = {None: "valid", "test": "valid", "train": "train", "all": "all"}[split]
        data = load_animal_spec(spec, ml.image_size, skeleton, n=count, seed=derive_seed(seed, "target-test-draw"),
                                split=release_split, flag="--data", **crops)
        if "split_files" in data.meta:
            return data, f"its {data.meta['split']} split"
        return data, "all of it" if not spec.startswith("synthetic-animal:") else "rendered crops"
    if keypoint_map is not None:
        raise ValueError("--keypoint-map: only for an animal run's dlc: data")
    kind = image_spec_kind(spec, "--data")
    own = spec == ml.target
    if kind == "synthetic" and not own:  # another synthetic draw of the run's test-split size
        return make_domain("target", n or ml.n_test, ml.image_size, derive_seed(seed, "target-test-draw")), "synthetic target crops"
    if own and split != "all":
        part = split or "test"
        if n is not None:
            setattr(ml, "n_test" if part == "test" else "n_target", n)
        return load_target_splits(ml, seed, (part,))[0], f"the run's target {part} split"
    data = load_image_spec(spec, ml.image_size, "--data")
    if n is not None:
        data = data.subset(slice(0, n))
    return data, "all of it"


def evaluate_checkpoint(state: dict, spec: str, split=None, n=None, device="cpu", keypoint_map=None) -> dict:
    """PCK@0.05 of a stage checkpoint on ``spec`` (see :func:`load_eval_images`): ``{"pck", "per_joint", "count",
    "n", "data", "split", "keypoints"}`` and, for a layout with keypoint groups, ``"per_group"``; PCK in percent."""
    net = load_pose_net(state, device)
    data, what = load_eval_images(state, spec, split, n, keypoint_map)
    skeleton = run_skeleton(state["settings"])
    batch = int(state["settings"]["multilevel"].get("eval_batch_size", 256))
    with torch.no_grad():
        metrics = evaluate_pck(net, data, batch, joints=skeleton_eval_joints(skeleton),
                               groups=skeleton.keypoint_groups or None)
    over = "the 12 limb keypoints" if skeleton.name == "body16" else f"all {skeleton.num_joints} {skeleton.name} keypoints"
    return {**metrics, "n": len(data), "data": spec, "split": what, "keypoints": over}


def report_2d(metrics: dict) -> str:
    head = (f"{metrics['data']}, {metrics['split']} ({metrics['n']} crops): PCK@0.05 {metrics['pck']:.2f} % "
            f"over {metrics.get('keypoints', 'the 12 limb keypoints')}")
    joints = ", ".join(f"{k} {v:.1f}" for k, v in metrics["per_joint"].items())
    lines = [head, "per-keypoint PCK@0.05 (%): " + joints]
    if metrics.get("per_group"):
        lines.append("per-group PCK@0.05 (%): " + ", ".join(f"{k} {v:.1f}" for k, v in metrics["per_group"].items()))
    return "\n".join(lines)

"""The animal task of the multilevel job: its domain pairs and the splits a seed trains and tests on.

``animal`` (the embedded default pair, no download): dm-control's dog rendered in the flat synthetic style
(``synthetic-animal:dog``, labelled source) and in the photo-like style (``synthetic-animal:dog-real``, unlabelled
target and, from another draw, its labelled test split), tigdog18 keypoints — SynAnimal -> real animals, the
multi-level paper's other half.

``mouse`` (a real animal): dm-control's rodent rendered as the labelled source (``synthetic-animal:rodent``,
mouse7 keypoints), the frames of Lightning Pose's mirror-mouse video as the unlabelled target (``video:``), its 60
labelled frames as the test split (``dlc:``, side-view keypoints through the ``mirror-mouse-top`` map). Only the
side view is kept (the top half of each frame, the rest black: the mirrored view below shows the same mouse
again, unlabelled in this layout), and target and test crops share one square, the box of every labelled
side-view keypoint (``box="fixed"``), so the video's crops frame the mouse as the test crops do.

The released datasets (``tigdog:<dir>``, ``synanimal:<dir>``) come with the releases' split lists: as a target
without a test spec, its ``train`` list adapts and its ``valid`` list tests (UDAPE's and UDA-Animal-Pose's
evaluation split); a ``synanimal:`` source gives its ``train`` list. A spec naming ``split=`` is read as named.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from posefast.data.image2d.animal_releases import RELEASE_KINDS, release_spec_split
from posefast.data.image2d.animal_specs import LABELLED_SOURCE_KINDS, animal_spec_kind, load_animal_spec
from posefast.seeds import derive_seed
from posefast.skeleton import get_skeleton

__all__ = ["AnimalTask", "ANIMAL_TASKS", "MOUSE_DIR", "load_animal_domains", "load_target_splits", "animal_task",
           "is_animal", "region_for",
           "task_of", "animal_counts"]



def _mouse_dir() -> str:
    """The mirror-mouse example folder: ``$POSEFAST_MOUSE_DIR``, else ``../shared/data/mouse-lp`` beside the
    checkout (or one level further up, from a git worktree); the first that exists, else the first."""
    env = os.environ.get("POSEFAST_MOUSE_DIR")
    if env:
        return env
    candidates = [os.path.join("..", "shared", "data", "mouse-lp"), os.path.join("..", "..", "shared", "data",
                                                                                  "mouse-lp")]
    return next((c for c in candidates if os.path.isdir(c)), candidates[0])


MOUSE_DIR = _mouse_dir()


@dataclass(frozen=True)
class AnimalTask:
    """One animal domain pair: the layout, the three specs (``test`` empty: another draw of ``target``), the
    keypoint map of a ``dlc:`` test file, the crop box rule (``fixed``: one square for target and test)."""

    name: str
    skeleton: str
    source: str
    target: str
    test: str = ""
    keypoint_map: str | None = None
    box: str = "keypoints"
    fill: float = 0.8
    region: tuple | None = None  # the part of each real frame kept (fractions), e.g. one view of a mirror rig


ANIMAL_TASKS = {
    "animal": AnimalTask("animal", "tigdog18", "synthetic-animal:dog", "synthetic-animal:dog-real"),
    "mouse": AnimalTask("mouse", "mouse7", "synthetic-animal:rodent",
                        f"video:{os.path.join(MOUSE_DIR, 'videos', 'test_vid.mp4')}", f"dlc:{MOUSE_DIR}",
                        keypoint_map="mirror-mouse-top", box="fixed", fill=0.95, region=(0.0, 0.0, 1.0, 0.5)),
}


def animal_task(name: str, flag: str = "--task") -> AnimalTask:
    try:
        return ANIMAL_TASKS[name]
    except KeyError:
        raise ValueError(f"{flag}: expected one of {sorted(ANIMAL_TASKS)}, got {name!r}") from None


def _check(task: AnimalTask, counts) -> None:
    for name, v in counts:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"animal.{name}: expected a positive int, got {v!r}")
    for flag, spec in (("--source", task.source), ("--target", task.target), ("--test", task.test)):
        if spec:
            animal_spec_kind(spec, flag)  # a bad spec fails before anything is rendered
    _check_source(task.source, "--source")


def _check_source(spec: str, flag: str) -> None:
    if animal_spec_kind(spec, flag) not in LABELLED_SOURCE_KINDS:
        raise ValueError(f"{flag}: the labelled source must be rendered (synthetic-animal:... or synanimal:<dir>), "
                         f"got {spec!r}")


def load_target_splits(task: AnimalTask, n_target: int, n_test: int, size: int, seed: int) -> tuple:
    """``(target, test)`` of one seed: the unlabelled target and its labelled test split (see
    :func:`load_animal_domains`)."""
    _check(task, (("n_target", n_target), ("n_test", n_test)))
    skel = get_skeleton(task.skeleton)
    release = animal_spec_kind(task.target, "--target") in RELEASE_KINDS
    if release and not task.test and release_spec_split(task.target, "--target") is not None:
        raise ValueError(f"--target: {task.target!r} names its split; give the labelled test split as well "
                         "(--set animal.test=...), or leave split= out: its train list adapts, its valid list tests")
    if not task.test and not task.target.startswith("synthetic-animal:") and not release:
        if task.target.startswith("video:"):
            raise ValueError(f"--test: a video target ({task.target!r}) has no labels; give a labelled test spec")
        # one labelled file: its first n_target crops adapt (labels unused), its last n_test test
        everything = load_animal_spec(task.target, size, skel, keypoint_map=task.keypoint_map, box=task.box,
                                      fill=task.fill, region=task.region, flag="--target")
        if n_target + n_test > len(everything):
            raise ValueError(f"--target: {task.target!r} has {len(everything)} crops, fewer than n_target + n_test = "
                             f"{n_target + n_test} (the two splits must not overlap)")
        return (everything.subset(slice(0, n_target)),
                everything.subset(slice(len(everything) - n_test, len(everything))))
    test = load_animal_spec(task.test or task.target, size, skel, n=n_test,
                            seed=derive_seed(seed, "target-test-draw"), keypoint_map=task.keypoint_map,
                            box=task.box, fill=task.fill, region=region_for(task, task.test or task.target),
                            split="valid", flag="--test")
    box = test.meta.get("fixed_box") if task.target.startswith("video:") else task.box
    # the keypoint map names the labelled test file's keypoints; a labelled target file of the same kind has the
    # same ones (its labels place its crops, unused in training)
    family = _family(task.target)
    same = family in ("dlc", "release") and _family(task.test or task.target) == family
    target = load_animal_spec(task.target, size, skel, n=n_target, seed=seed, box=box, fill=task.fill,
                              region=region_for(task, task.target), split="train",
                              keypoint_map=task.keypoint_map if same else None, flag="--target")
    return target, test


def _family(spec: str) -> str:
    kind = animal_spec_kind(spec)
    return "release" if kind in RELEASE_KINDS else kind


def region_for(task: AnimalTask, spec: str):
    """The task's region for a spec that takes one (a release dataset's frames are cropped whole)."""
    return None if animal_spec_kind(spec) in RELEASE_KINDS else task.region


def load_animal_domains(task: AnimalTask, n_source: int, n_target: int, n_test: int, size: int, seed: int) -> dict:
    """``{"source", "target", "target_test"}`` ImagePoseDatasets of ``size`` px crops in the task's layout for one
    seed: rendered crops are drawn from the seed (the test split from a derived seed, disjoint from the target's);
    a labelled test file gives at most ``n_test`` crops and a video ``n_target`` frames spread over it; a labelled
    target file without a test spec is split, its first ``n_target`` crops adapting and its last ``n_test``
    testing (overlap refused)."""
    _check(task, (("n_source", n_source), ("n_target", n_target), ("n_test", n_test)))
    target, test = load_target_splits(task, n_target, n_test, size, seed)
    source = load_animal_spec(task.source, size, get_skeleton(task.skeleton), n=n_source, seed=seed, split="train",
                              flag="--source")
    return {"source": source, "target": target, "target_test": test}


def is_animal(cfg) -> bool:
    """Whether a run's ``multilevel.task`` is an animal task (its data: the ``animal`` section)."""
    return getattr(cfg.multilevel, "task", "human") != "human"


def task_of(cfg) -> AnimalTask:
    """The run's animal task, with the ``animal`` section's spec overrides applied (each checked)."""
    task = animal_task(cfg.multilevel.task, "multilevel.task")
    a = cfg.animal
    changes = {k: getattr(a, k) for k in ("source", "target", "test", "keypoint_map") if getattr(a, k)}
    for key in ("source", "target", "test"):
        if key in changes:
            animal_spec_kind(changes[key], f"animal.{key}")
    if "source" in changes:
        _check_source(changes["source"], "animal.source")
    if "target" in changes and "test" not in changes and task.test:
        changes["test"] = ""  # a new target: its test split is another part or draw of it, not the task's file
    return dataclasses.replace(task, **changes)


def animal_counts(cfg) -> tuple[int, int, int]:
    """``(n_source, n_target, n_test)`` of the run: the ``animal`` section's for an animal task, else
    ``multilevel``'s."""
    a = cfg.animal if is_animal(cfg) else cfg.multilevel
    return a.n_source, a.n_target, a.n_test

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
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from posefast.data.image2d.animal_specs import animal_spec_kind, load_animal_spec
from posefast.seeds import derive_seed
from posefast.skeleton import get_skeleton

__all__ = ["AnimalTask", "ANIMAL_TASKS", "MOUSE_DIR", "load_animal_domains", "animal_task"]



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


def load_animal_domains(task: AnimalTask, n_source: int, n_target: int, n_test: int, size: int, seed: int) -> dict:
    """``{"source", "target", "target_test"}`` ImagePoseDatasets of ``size`` px crops in the task's layout for one
    seed: rendered crops are drawn from the seed (the test split from a derived seed, disjoint from the target's);
    file specs are read whole, ``n_test`` capping a labelled file and ``n_target`` a video."""
    for name, v in (("n_source", n_source), ("n_target", n_target), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"multilevel.{name}: expected a positive int, got {v!r}")
    skel = get_skeleton(task.skeleton)
    for flag, spec in (("--source", task.source), ("--target", task.target), ("--test", task.test)):
        if spec:
            animal_spec_kind(spec, flag)  # a bad spec fails before anything is rendered
    if not task.source.startswith("synthetic-animal:"):
        raise ValueError(f"--source: the labelled source must be rendered (synthetic-animal:...), got {task.source!r}")
    test_spec = task.test or task.target
    test = load_animal_spec(test_spec, size, skel, n=n_test, seed=derive_seed(seed, "target-test-draw"),
                            keypoint_map=task.keypoint_map, box=task.box, fill=task.fill, region=task.region,
                            flag="--test")
    box = test.meta.get("fixed_box") if task.target.startswith("video:") else task.box
    target = load_animal_spec(task.target, size, skel, n=n_target, seed=seed, box=box, fill=task.fill,
                              region=task.region, flag="--target")
    source = load_animal_spec(task.source, size, skel, n=n_source, seed=seed, flag="--source")
    return {"source": source, "target": target, "target_test": test}

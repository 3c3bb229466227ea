"""The animal task's domain pairs (posefast.methods.multilevel.animal)."""
import os

import pytest
import torch

pytest.importorskip("mujoco")

from posefast.methods.multilevel.animal import ANIMAL_TASKS, AnimalTask, animal_task, load_animal_domains  # noqa: E402


# the renders and networks are sized for one thread (their bits depend on the thread count)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_default_pair_splits():
    d = load_animal_domains(ANIMAL_TASKS["animal"], 6, 5, 4, 32, seed=3)
    assert [len(d[k]) for k in ("source", "target", "target_test")] == [6, 5, 4]
    assert d["source"].meta["style"] == "source" and d["target"].meta["style"] == "target"
    assert d["target_test"].meta["seed"] != d["target"].meta["seed"]  # another draw
    assert all(v.keypoint_names == d["source"].keypoint_names for v in d.values())
    again = load_animal_domains(ANIMAL_TASKS["animal"], 6, 5, 4, 32, seed=3)
    assert torch.equal(again["target_test"].images, d["target_test"].images)


def test_bad_task_and_counts():
    with pytest.raises(ValueError, match="--task: expected one of"):
        animal_task("cat")
    with pytest.raises(ValueError, match="animal.n_source"):
        load_animal_domains(ANIMAL_TASKS["animal"], 0, 5, 4, 32, 0)
    with pytest.raises(ValueError, match="--source: the labelled source must be rendered"):
        load_animal_domains(AnimalTask("x", "mouse7", "dlc:/nowhere", "synthetic-animal:rodent-real"), 2, 2, 2, 32, 0)


@pytest.mark.skipif(not os.path.isdir(ANIMAL_TASKS["mouse"].test.partition(":")[2]),
                    reason="the mirror-mouse folder is not on this machine")
def test_mouse_pair_shares_one_crop_square():
    pytest.importorskip("av")
    d = load_animal_domains(ANIMAL_TASKS["mouse"], 4, 30, 1000, 32, seed=0)
    assert len(d["target_test"]) == 60 and len(d["target"]) == 30
    assert d["target"].meta["box"] == d["target_test"].meta["fixed_box"]
    assert float(d["target"].visible.sum()) == 0 and d["target_test"].visible.mean() > 0.8
    frames = d["target"].extras["frame"]
    assert int(frames[-1]) > 900  # spread over the whole video, not its first frames

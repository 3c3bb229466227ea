"""Animal specs: COCO-format animal files through the coco: spec in an animal layout (AP-10K / Animal-Pose names,
mmpose's spellings too), layout mapping of rendered animals, and spec errors."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from posefast.data.image2d.animal_specs import animal_spec_kind, load_animal_spec, remap_layout
from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.skeleton import ANIMAL14, ANIMALPOSE20, AP10K17, TIGDOG18

# mmpose's COCO conversion of Animal-Pose spells and orders the 20 keypoints so (its AnimalPoseDataset docstring)
MMPOSE_ANIMALPOSE = ["L_Eye", "R_Eye", "L_EarBase", "R_EarBase", "Nose", "Throat", "TailBase", "Withers",
                     "L_F_Elbow", "R_F_Elbow", "L_B_Elbow", "R_B_Elbow", "L_F_Knee", "R_F_Knee", "L_B_Knee",
                     "R_B_Knee", "L_F_Paw", "R_F_Paw", "L_B_Paw", "R_B_Paw"]


def _coco(tmp_path, names):
    Image.fromarray(np.full((80, 100, 3), 128, np.uint8)).save(tmp_path / "a.jpg")
    k = len(names)
    kps = []
    for i in range(k):
        kps += [10 + 4 * i, 20 + 2 * i, 2 if i % 3 else 1]
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}],
           "annotations": [{"id": 7, "image_id": 1, "keypoints": kps, "bbox": [5, 10, 90, 60], "category_id": 1}],
           "categories": [{"id": 1, "name": "dog", "keypoints": names}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    return path, np.array(kps, dtype=float).reshape(k, 3)


def test_coco_animal_pose_in_mmpose_spelling_maps_by_name(tmp_path):
    path, raw = _coco(tmp_path, MMPOSE_ANIMALPOSE)
    d = load_animal_spec(f"coco:{path}", 50, "animalpose20")
    assert d.keypoint_names == ANIMALPOSE20.joint_names and d.meta["absent_keypoints"] == []
    left, top, side = d.extras["crop_boxes"][0].tolist()
    for k, name in enumerate(ANIMALPOSE20.joint_names):
        j = [n.lower().replace("_f_", "_front_").replace("_b_", "_back_").replace("l_", "left_", 1)
             .replace("r_", "right_", 1).replace("earbase", "ear") for n in MMPOSE_ANIMALPOSE].index(name)
        np.testing.assert_allclose(d.keypoints[0, k].numpy(), (raw[j, :2] - [left, top]) * 50 / side, rtol=1e-5)
        assert d.visible[0, k] == float(raw[j, 2] == 2)


def test_coco_ap10k_names(tmp_path):
    path, _ = _coco(tmp_path, ["left_eye", "right_eye", "nose", "neck", "Root of tail", "left_shoulder",
                               "left_elbow", "left_front_paw", "right_shoulder", "right_elbow", "right_front_paw",
                               "left_hip", "left_knee", "left_back_paw", "right_hip", "right_knee",
                               "right_back_paw"])
    d = load_animal_spec(f"coco:{path}", 40, "ap10k17")
    assert d.keypoint_names == AP10K17.joint_names and d.meta["absent_keypoints"] == []
    # read in another layout, the names it lacks are invisible and listed
    d14 = load_animal_spec(f"coco:{path}", 40, "animal14")
    assert set(d14.meta["absent_keypoints"]) == set(ANIMAL14.joint_names[6:])
    assert float(d14.visible[0, 6:].sum()) == 0


def test_remap_follows_the_keypoint_map():
    n = 3
    kp = torch.rand(n, 18, 2) * 30
    vis = (torch.rand(n, 18) > 0.3).float()
    d = ImagePoseDataset(torch.zeros(n, 3, 32, 32), kp, vis, TIGDOG18.joint_names, {"skeleton": "tigdog18"})
    r = remap_layout(d, "animal14")
    assert r.keypoint_names == ANIMAL14.joint_names
    assert torch.equal(r.keypoints[:, 0], kp[:, 0]) and torch.equal(r.keypoints[:, 2], kp[:, 3])
    assert torch.equal(r.visible[:, 13], vis[:, 17])
    with pytest.raises(ValueError, match="target: no keypoint mapping"):
        remap_layout(d, "mouse7")


def test_spec_errors_name_the_flag():
    with pytest.raises(ValueError, match="--data: expected synthetic-animal"):
        animal_spec_kind("lsp:/x", "--data")
    with pytest.raises(ValueError, match="--target: expected synthetic-animal:dog"):
        animal_spec_kind("synthetic-animal:unicorn", "--target")
    assert animal_spec_kind("dlc:/some/dir") == "dlc"

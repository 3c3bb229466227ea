"""Per-keypoint-group PCK (UDAPE's group_accuracy) on a model whose heatmaps put each keypoint where we choose."""
import math

import torch
import torch.nn as nn

from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.evaluation.heatmap2d import evaluate_pck, group_pck, skeleton_eval_joints
from posefast.models.pose2d import Pose2DOutput
from posefast.skeleton import BODY16, TIGDOG18


class _Fixed(nn.Module):
    """Heatmaps [N, K, 16, 16] peaked at given heatmap pixels (stride 4 on 64 px crops)."""

    output_stride = 4

    def __init__(self, peaks):  # [N, K, 2] integer (x, y)
        super().__init__()
        self.peaks = peaks
        self.num_keypoints = peaks.shape[1]
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n, k = self.peaks.shape[:2]
        hm = torch.zeros(n, k, 16, 16)
        for i in range(n):
            for j in range(k):
                hm[i, j, self.peaks[i, j, 1], self.peaks[i, j, 0]] = 1.0
        return Pose2DOutput(hm + self.w, hm)


def test_group_pck_is_the_mean_of_its_keypoints():
    per_joint = {"a": 100.0, "b": 50.0, "c": float("nan"), "d": 0.0}
    g = group_pck(per_joint, {"ab": ("a", "b"), "cd": ("c", "d"), "c": ("c",)})
    assert g["ab"] == 75.0 and g["cd"] == 0.0 and math.isnan(g["c"])


def test_evaluate_pck_reports_the_layouts_groups():
    n, k = 4, TIGDOG18.num_joints
    g = torch.Generator().manual_seed(0)
    peaks = torch.randint(2, 14, (n, k, 2), generator=g)
    truth = (peaks.float() + 0.5) * 4  # heatmap pixel centre -> image pixels
    truth[:, TIGDOG18.joint("chin")] += 20  # every chin wrong, everything else right
    data = ImagePoseDataset(torch.zeros(n, 3, 64, 64), truth, torch.ones(n, k), TIGDOG18.joint_names)
    out = evaluate_pck(_Fixed(peaks), data, n, joints=skeleton_eval_joints(TIGDOG18),
                       groups=TIGDOG18.keypoint_groups)
    assert out["per_group"]["chin"] == 0.0
    assert all(v == 100.0 for grp, v in out["per_group"].items() if grp != "chin")
    assert out["pck"] == 100.0 * (k - 1) / k
    assert skeleton_eval_joints(BODY16) != skeleton_eval_joints(TIGDOG18)


def test_group_rows_pair_each_group_like_the_overall_table():
    import numpy as np

    from posefast.evaluation.keypoint_groups import group_rows, group_table
    from posefast.evaluation.stats import paired_difference, pck_of_hits

    rng = np.random.default_rng(0)
    seeds, variants = [0, 1, 2], ["source-only", "multilevel"]
    evaluated = (0, 1, 2, 3)
    records = {v: {s: {"hits": (rng.random((50, 4)) < (0.3 if v == "source-only" else 0.6)).astype(float),
                       "visible": np.ones((50, 4))} for s in seeds} for v in variants}
    rows = group_rows(records, seeds, variants, {"a": (0, 1), "b": (3,), "gone": (7,)}, evaluated, 50)
    assert set(rows) == {"a", "b"}  # a group with no evaluated keypoint is left out
    sub = {v: {s: {k: r[k][:, [3]] for k in r} for s, r in records[v].items()} for v in variants}
    expect = paired_difference(sub["source-only"], sub["multilevel"], pck_of_hits, True, 50)
    assert rows["b"]["multilevel"]["vs_source_only"]["mean"] == expect["mean"]
    assert "vs_source_only" not in rows["a"]["source-only"]
    text = group_table(rows, variants)
    assert text.count("\n| ") == 2 and "| variant | a | b |" in text


def test_a_group_with_no_labelled_keypoint_is_left_out_not_nan():
    import numpy as np

    from posefast.evaluation.keypoint_groups import group_rows, group_table, unscored_groups

    seeds, variants = [0, 1], ["source-only", "multilevel"]
    visible = np.ones((20, 3))
    visible[:, 2] = 0  # nobody labels keypoint 2 (a chin the target never marks)
    records = {v: {s: {"hits": np.ones((20, 3)), "visible": visible} for s in seeds} for v in variants}
    groups = {"a": (0, 1), "chin": (2,)}
    rows = group_rows(records, seeds, variants, groups, (0, 1, 2), 20)
    assert set(rows) == {"a"} and unscored_groups(rows, groups) == ["chin"]
    assert "nan" not in group_table(rows, variants)


def test_defaults_follow_the_datasets_layout():
    n, k = 3, TIGDOG18.num_joints
    peaks = torch.randint(2, 14, (n, k, 2), generator=torch.Generator().manual_seed(1))
    truth = (peaks.float() + 0.5) * 4
    animal = ImagePoseDataset(torch.zeros(n, 3, 64, 64), truth, torch.ones(n, k), TIGDOG18.joint_names)
    out = evaluate_pck(_Fixed(peaks), animal, n)
    assert len(out["per_joint"]) == 18 and set(out["per_group"]) == set(TIGDOG18.keypoint_groups)
    human = ImagePoseDataset(torch.zeros(n, 3, 64, 64), truth[:, :16], torch.ones(n, 16), BODY16.joint_names)
    out = evaluate_pck(_Fixed(peaks[:, :16]), human, n)
    assert len(out["per_joint"]) == 12 and "per_group" not in out  # Body16: the 12 limb keypoints, no groups

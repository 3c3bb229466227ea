"""Parity of posefast's GPA op with PoseDA's released ``gpa()`` (rese1f/PoseDA @ 7934411, README.md:14-59).

``tests/data/parity/poseda_gpa_release.npz`` holds the release's output on two one-camera batches (MPI-INF-3DHP
TS1-4 and TS5-6 cameras), written by ``tools/parity/poseda_gpa_golden.py`` (run by hand with a checkout).

Deliberate differences, and how the test puts posefast on the release's footing:

* Pairing: the release pairs each source pose with a target pose by one ``torch.randperm`` inside the function
  (README.md:29); posefast's ``PoseDA.place`` draws target indices with replacement from its own seeded generator
  and passes the pairs to the op. The test feeds the op the release's recorded permutation.
* Cameras: the release takes the focal length for the depth from the batch's first camera (README.md:42) and the
  principal point per pose; posefast uses every pose's own camera. On a one-camera batch both are the same — the
  only case where the release is well defined; a mixed batch is shown to differ below.
* Guards: posefast floors the target's 2D scale and clamps the depth to ``depth_range``; the release has neither.
  The batches stay inside both.
* Units: the release works in normalised screen units; ``PoseDA.place`` calls the op in pixels. Depth and ray are
  the same in both (the normalisation scales f, c, u and the box by the same 2/w), which the pixel test checks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posefast.ops import global_position_align

GOLDEN = Path(__file__).parent / "data" / "parity" / "poseda_gpa_release.npz"
TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def gold():
    with np.load(GOLDEN) as z:
        return {k: torch.from_numpy(z[k]) for k in z.files}


@pytest.mark.parametrize("cam", ["ts1", "ts5"])
def test_gpa_matches_release_in_normalised_units(gold, cam):
    index = gold[f"{cam}.index"]
    out = global_position_align(gold["source_3d"], gold[f"{cam}.target_2d"][index], gold[f"{cam}.camera"])
    torch.testing.assert_close(out, gold[f"{cam}.aligned"], **TOL)
    # the root-relative pose is kept, only the root moves
    torch.testing.assert_close(out - out[:, :1], gold["source_3d"] - gold["source_3d"][:, :1], **TOL)


@pytest.mark.parametrize("cam", ["ts1", "ts5"])
def test_gpa_matches_release_in_pixels(gold, cam):
    """What PoseDA.place does: pixel target 2D with the pixel camera."""
    index = gold[f"{cam}.index"]
    out = global_position_align(gold["source_3d"], gold[f"{cam}.target_2d_px"][index], gold[f"{cam}.camera_px"])
    torch.testing.assert_close(out, gold[f"{cam}.aligned"], rtol=1e-4, atol=1e-4)


def test_mixed_cameras_are_where_the_release_is_not_defined(gold):
    """Half the batch seen by each camera: posefast's per-pose focal lengths give each half the depth of its own
    one-camera batch; the release would use the first camera's focal length for all (README.md:42)."""
    n = gold["source_3d"].shape[0]
    half = torch.arange(n) < n // 2
    target = torch.where(half[:, None, None], gold["ts1.target_2d"][gold["ts1.index"]],
                         gold["ts5.target_2d"][gold["ts5.index"]])
    camera = torch.where(half[:, None], gold["ts1.camera"], gold["ts5.camera"])
    out = global_position_align(gold["source_3d"], target, camera)
    torch.testing.assert_close(out[half], gold["ts1.aligned"][half], **TOL)
    torch.testing.assert_close(out[~half], gold["ts5.aligned"][~half], **TOL)

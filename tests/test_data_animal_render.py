"""The embedded synthetic animals: dm-control's dog and rodent posed by MuJoCo on the CPU and rasterised by posefast.

Needs the ``animal`` extra (mujoco, dm-control); skipped without it."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("mujoco")
pytest.importorskip("dm_control")

from posefast.data.image2d.animal_domains import animal_spec, make_animal_domain, rasterize_mesh  # noqa: E402
from posefast.data.image2d.animal_rig import BEHAVIOURS, ROOT_PITCH, get_rig, sample_joint_angles  # noqa: E402


# the renders and networks are sized for one thread (their bits depend on the thread count)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("style", ["source", "target"])
def test_rendering_is_deterministic_for_a_seed(style):
    a = make_animal_domain("dog", style, 6, 48, seed=5)
    b = make_animal_domain("dog", style, 6, 48, seed=5)
    c = make_animal_domain("dog", style, 6, 48, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.keypoints, b.keypoints)
    assert torch.equal(a.visible, b.visible)
    assert not torch.equal(a.images, c.images)
    assert a.keypoint_names == get_rig("dog").skeleton.joint_names and len(a.keypoint_names) == 18


@pytest.mark.parametrize("animal", ["dog", "rodent"])
def test_keypoints_project_onto_the_silhouette(animal):
    d = make_animal_domain(animal, "source", 24, 64, seed=2)
    sil = d.extras["silhouette"]
    assert sil.float().mean() > 0.05  # the animal fills a good part of the crop
    near = F.max_pool2d(sil.float()[:, None], 3, 1, 1)[:, 0] > 0  # within one pixel
    kp = d.keypoints
    inside = ((kp >= 0) & (kp < 64)).all(-1)
    col, row = kp[..., 0].floor().long().clamp(0, 63), kp[..., 1].floor().long().clamp(0, 63)
    on = near[torch.arange(len(d))[:, None].expand_as(col), row, col]
    assert inside.float().mean() > 0.95
    assert bool(on[inside].all()), f"{int((~on & inside).sum())} keypoints off the silhouette"
    # a visible keypoint is inside the crop and on the silhouette
    assert bool((d.visible <= (inside & on).float()).all())


def test_target_style_hides_some_keypoints_and_differs_in_look():
    s = make_animal_domain("dog", "source", 16, 64, seed=1)
    t = make_animal_domain("dog", "target", 16, 64, seed=1)
    assert 0.4 < float(t.visible.mean()) < float(s.visible.mean()) + 0.05
    # the source background is flat or a smooth ramp; the target's is cluttered and noisy
    bg_s = s.images.permute(0, 2, 3, 1)[~s.extras["silhouette"]]
    bg_t = t.images.permute(0, 2, 3, 1)[~t.extras["silhouette"]]
    assert bg_t.std(0).mean() > 0 and bg_s.shape[1] == bg_t.shape[1] == 3


def test_poses_stay_within_the_joint_limits():
    rig = get_rig("dog")
    rng = np.random.default_rng(0)
    rows = sample_joint_angles(rig, list(BEHAVIOURS) * 3, rng)
    for row in rows:
        for name, value in row.items():
            _, lo, hi = rig.joints[name] if name != ROOT_PITCH else (None, 0.0, np.pi / 2)
            assert lo - 1e-9 <= value <= hi + 1e-9, name
    with pytest.raises(ValueError, match="behaviours: unknown behaviour"):
        sample_joint_angles(rig, ["fly"], rng)


def test_skinning_at_the_bind_pose_returns_the_rest_mesh():
    # MuJoCo binds these skins at the model's rest pose: posing with every angle 0 must give the rest vertices back
    rig = get_rig("dog")
    posed = rig.pose([{name: 0.0 for name in rig.joints}])
    # (to float32 rounding: MuJoCo stores the bind poses and skin vertices as float32; the dog is ~1.2 m long)
    assert np.abs(posed.vertices[0] - rig.rest).max() < 1e-4


def test_rasterizer_covers_a_square_exactly():
    # two triangles spanning [8, 24) x [8, 24): exactly the 16 x 16 pixel centres inside, nearer square wins
    pts = torch.tensor([[8, 8, 2], [24, 8, 2], [24, 24, 2], [8, 24, 2], [0, 0, 1], [40, 0, 1], [0, 40, 1.0]],
                       dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    r = rasterize_mesh(pts, faces, 32)
    assert int(r.foreground.sum()) == 256 and bool(r.foreground[8:24, 8:24].all())
    assert torch.allclose(r.depth[r.foreground], torch.tensor(2.0))
    r2 = rasterize_mesh(pts, torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6]]), 32)
    assert int(r2.face[9, 9]) == 2  # the nearer triangle (depth 1) covers the square's corner


def test_spec_names():
    assert animal_spec("synthetic-animal:dog") == ("dog", "source")
    assert animal_spec("synthetic-animal:dog-real") == ("dog", "target")
    assert animal_spec("synthetic-animal:rodent") == ("rodent", "source")
    with pytest.raises(ValueError, match="target: expected synthetic-animal:dog"):
        animal_spec("synthetic-animal:cat")


def test_a_batch_rasterises_as_its_crops_one_by_one():
    g = torch.Generator().manual_seed(0)
    pts = torch.cat([torch.rand(3, 40, 2, generator=g) * 32, 1 + torch.rand(3, 40, 1, generator=g)], -1)
    faces = torch.randint(0, 40, (60, 3), generator=g)
    batch = rasterize_mesh(pts, faces, 32)
    for b in range(3):
        one = rasterize_mesh(pts[b], faces, 32)
        assert torch.equal(batch.face[b], one.face) and torch.equal(batch.depth[b], one.depth)
        assert torch.equal(batch.bary[b], one.bary)

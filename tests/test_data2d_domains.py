"""Synthetic source / target domains of posefast.data.image2d: contents, determinism, labels, a measurable gap."""
import numpy as np
import pytest
import torch

from posefast.data.image2d import (BODY16_NAMES, PCK_EVAL_JOINTS, ImagePoseDataset, h36m17_to_body16, make_domain,
                             rasterize, sample_poses)

N, S = 48, 64



@pytest.fixture(scope="module")
def domains():
    return {style: make_domain(style, N, S, seed=3) for style in ("source", "target")}


@pytest.mark.parametrize("style", ["source", "target"])
def test_contents_shapes_and_ranges(domains, style):
    ds = domains[style]
    assert isinstance(ds, ImagePoseDataset) and len(ds) == N
    assert ds.images.shape == (N, 3, S, S) and ds.images.dtype == torch.float32
    assert ds.keypoints.shape == (N, 16, 2) and ds.visible.shape == (N, 16)
    assert ds.keypoint_names == BODY16_NAMES and ds.image_size == (S, S)
    assert 0 <= ds.images.min() and ds.images.max() <= 1 and ds.images.std() > 0.05
    assert set(ds.visible.unique().tolist()) <= {0.0, 1.0}
    # Visible keypoints are inside the crop; the person is centred and fills most of it.
    kp = ds.keypoints[ds.visible > 0]
    assert (kp >= 0).all() and (kp < S).all()
    span = (ds.keypoints.amax(1) - ds.keypoints.amin(1)).amax(-1) / S
    assert 0.45 < span.min() and span.max() < 1.0
    centre = (ds.keypoints.amax(1) + ds.keypoints.amin(1)) / 2
    assert ((centre - S / 2).abs() < 0.15 * S).all()
    image, keypoints, visible = ds[0]
    assert image.shape == (3, S, S) and keypoints.shape == (16, 2) and visible.shape == (16,)
    assert ds.meta["style"] == style and ds.extras["poses_cam"].shape == (N, 17, 3)


def test_labels_are_the_renderers(domains):
    # Source keypoints and visibility are exactly the rasteriser's; the target's visibility can only lose
    # joints (to occluders), never gain them.
    for style, ds in domains.items():
        r = rasterize(ds.extras["poses_cam"], ds.extras["cameras"], S)
        torch.testing.assert_close(ds.keypoints, h36m17_to_body16(r.keypoints))
        self_visible = h36m17_to_body16(r.visible[..., None])[..., 0]
        if style == "source":
            assert torch.equal(ds.visible, self_visible)
        else:
            assert (ds.visible <= self_visible).all()
    lost = (h36m17_to_body16(rasterize(domains["target"].extras["poses_cam"], domains["target"].extras["cameras"],
                                       S).visible[..., None])[..., 0] - domains["target"].visible).sum()
    assert lost > 0, "target occluders hid no keypoint at all"


def test_deterministic_per_seed_and_style():
    a = make_domain("target", 12, S, seed=11)
    b = make_domain("target", 12, S, seed=11)
    assert torch.equal(a.images, b.images) and torch.equal(a.keypoints, b.keypoints)
    assert torch.equal(a.visible, b.visible)
    c = make_domain("target", 12, S, seed=12)
    assert not torch.equal(a.images, c.images) and not torch.equal(a.keypoints, c.keypoints)
    src = make_domain("source", 12, S, seed=11)
    assert not torch.equal(src.keypoints, a.keypoints), "source and target must not share poses"


def test_sizes_and_explicit_poses():
    ds = make_domain("source", 5, 96, seed=0)
    assert ds.images.shape == (5, 3, 96, 96) and (ds.keypoints[ds.visible > 0] < 96).all()
    poses = sample_poses(5, np.random.default_rng(1))
    a = make_domain("target", 5, S, seed=2, poses=poses)
    # The given poses are used (up to the random turn): bone lengths are preserved.
    got = a.extras["poses_cam"].double().numpy()
    np.testing.assert_allclose(np.linalg.norm(got - got[:, :1], axis=-1),
                               np.linalg.norm(poses - poses[:, :1], axis=-1), rtol=1e-5, atol=1e-6)


def _gradient_energy(x: torch.Tensor) -> float:
    return ((x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()).item()


def test_domains_differ_measurably(domains):
    src, tgt = domains["source"], domains["target"]
    # Clutter, textures and noise: the target has far more edge energy, most of all off the figure.
    assert _gradient_energy(tgt.images) > 2 * _gradient_energy(src.images)
    for ds, lo, hi in ((src, 0, 0.005), (tgt, 0.015, 1)):
        r = rasterize(ds.extras["poses_cam"], ds.extras["cameras"], S)
        bg = (~r.foreground[..., :, 1:] & ~r.foreground[..., :, :-1]).unsqueeze(1).float()
        g = ((ds.images[..., :, 1:] - ds.images[..., :, :-1]).abs() * bg).sum() / (3 * bg.sum())
        assert lo <= g <= hi, f"{ds.meta['style']}: background gradient {g:.4f} not in [{lo}, {hi}]"
    # Occluders: fewer visible evaluation keypoints in the target.
    j = list(PCK_EVAL_JOINTS)
    assert tgt.visible[:, j].mean() < src.visible[:, j].mean() - 0.03


@pytest.mark.parametrize("kwargs, match", [
    (dict(style="lsp", n=2), "style"),
    (dict(style="source", n=-1), "n"),
    (dict(style="source", n=2, size=8), "size"),
    (dict(style="source", n=2, seed=-3), "seed"),
    (dict(style="source", n=2, poses=np.zeros((3, 17, 3))), "poses"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_domain(**kwargs)


def test_dataset_validation_and_subset(domains):
    ds = domains["source"]
    sub = ds.subset(torch.tensor([4, 1]))
    assert len(sub) == 2 and torch.equal(sub.images, ds.images[[4, 1]])
    assert torch.equal(sub.extras["poses_cam"], ds.extras["poses_cam"][[4, 1]]) and sub.meta == ds.meta
    assert len(ds.subset(ds.visible[:, 0] > 0)) == int((ds.visible[:, 0] > 0).sum())
    bad = ds.keypoints.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="keypoints"):
        ImagePoseDataset(ds.images, bad, ds.visible)
    with pytest.raises(ValueError, match="visible"):
        ImagePoseDataset(ds.images, ds.keypoints, ds.visible[:, :15])
    with pytest.raises(TypeError, match="images"):
        ImagePoseDataset(ds.images.double(), ds.keypoints, ds.visible)
    with pytest.raises(ValueError, match="images"):
        ImagePoseDataset(ds.images * 2, ds.keypoints, ds.visible)
    with pytest.raises(ValueError, match="extras"):
        ImagePoseDataset(ds.images, ds.keypoints, ds.visible, extras={"files": ["a.jpg"]})

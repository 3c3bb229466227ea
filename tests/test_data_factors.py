"""The single-factor targets (``synthetic.FACTOR_PRESETS``): each differs from ``synthetic:h36m`` in one factor,
with that factor's values from the ``3dhp`` preset / rig, and everything else drawn as ``h36m`` draws it."""
import dataclasses

import numpy as np
import pytest

from posefast.data import load
from posefast.data.synth3d.body import (DOF_NAMES, MEAN_BONE_LENGTHS, age_proportions, population_bone_lengths,
                                        rest_stature)
from posefast.data.synth3d.rigs import RIGS, camera_elevation
from posefast.data.synth3d.synthetic import (FACTOR_PRESETS, PRESETS, generate_synthetic, preset_bodies,
                                             sample_world_poses)

SRC, TGT = PRESETS["h36m"], PRESETS["3dhp"]
FACTOR_FIELDS = {"h36m+position": {"rig"}, "h36m+view": {"rig"}, "h36m+local": {"angle_noise_deg"},
                 "h36m+classes": {"classes"}, "h36m+bodies": {"bodies", "train_subjects", "test_subjects"}}


def _roots(n, rng):
    """Pelvis positions of standing and sitting people around the origin (heights 0.5-1.05 m)."""
    return np.stack([rng.uniform(-1, 1, n), rng.uniform(0.5, 1.05, n), rng.uniform(-1, 1, n)], -1)


def _quantiles(x):
    return np.percentile(x, [5, 25, 50, 75, 95])


def test_each_factor_preset_changes_only_its_factor():
    assert set(FACTOR_PRESETS) == set(FACTOR_FIELDS)
    for name, p in FACTOR_PRESETS.items():
        changed = {f.name for f in dataclasses.fields(p)
                   if getattr(p, f.name) != getattr(SRC, f.name)} - {"name", "bodies_of"}
        assert changed == FACTOR_FIELDS[name], name
        if name != "h36m+bodies":  # the very same subjects' bodies as the source
            for s, lengths in preset_bodies(p).items():
                np.testing.assert_array_equal(lengths, preset_bodies(SRC)[s])
    assert FACTOR_PRESETS["h36m+local"].angle_noise_deg == TGT.angle_noise_deg


def test_factor_presets_load_through_the_spec_and_are_deterministic():
    for name in FACTOR_PRESETS:
        a = load(f"synthetic:{name}", n=40, seed=3, split="test")
        b = generate_synthetic(name, n=40, seed=3, split="test")
        c = generate_synthetic(name, n=40, seed=4, split="test")
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        np.testing.assert_array_equal(a.joints_2d, b.joints_2d)
        assert not np.allclose(a.joints_3d, c.joints_3d)
        assert set(a.subject) <= set(FACTOR_PRESETS[name].test_subjects)
        assert (a.joints_2d >= 0).all() and (a.joints_2d <= a.image_size[:, None, :]).all()
    with pytest.raises(ValueError, match="preset"):
        generate_synthetic("h36m+nothing", n=5)


def test_camera_factors_leave_poses_and_bodies_as_the_source():
    # the world poses (bodies, classes, angles) come from the same sampler: same rng -> the same poses
    for name in ("h36m+position", "h36m+view"):
        a = sample_world_poses(SRC, 200, np.random.default_rng(5))
        b = sample_world_poses(FACTOR_PRESETS[name], 200, np.random.default_rng(5))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[2], b[2])


def test_position_rig_is_3dhp_framing_with_the_source_viewpoint():
    rng = np.random.default_rng(0)
    root = _roots(40000, rng)
    rig, src, tgt = RIGS["3dhp-position"], RIGS["h36m"], RIGS["3dhp"]
    cams = rig.sample(rng, root)
    elev = camera_elevation(cams.eye, root)
    src_elev = np.degrees(src.viewpoint(rng, root)[0])
    np.testing.assert_allclose(_quantiles(elev), _quantiles(src_elev), atol=0.5)
    tgt_elev = np.degrees(tgt.viewpoint(rng, root)[0])
    assert np.percentile(tgt_elev, 95) > np.percentile(elev, 95) + 10  # the 3DHP rig itself sees from higher up
    # distance, intrinsics and image sizes of the 3DHP rig
    dist = np.hypot(*(cams.eye - root)[:, [0, 2]].T)
    tgt_cams = tgt.sample(rng, root)
    np.testing.assert_allclose(_quantiles(dist), _quantiles(np.hypot(*(tgt_cams.eye - root)[:, [0, 2]].T)), atol=0.1)
    assert {tuple(s) for s in cams.image_size} == {(2048, 2048), (1920, 1080)}
    assert abs((cams.view == 0).mean() - 0.75) < 0.02


def test_view_rig_is_source_framing_with_the_3dhp_viewpoint():
    rng = np.random.default_rng(1)
    root = _roots(40000, rng)
    rig, src, tgt = RIGS["3dhp-view"], RIGS["h36m"], RIGS["3dhp"]
    cams = rig.sample(rng, root)
    elev = camera_elevation(cams.eye, root)
    np.testing.assert_allclose(_quantiles(elev), _quantiles(np.degrees(tgt.viewpoint(rng, root)[0])), atol=0.5)
    # horizontal distance, aim point and intrinsics as the Human3.6M rig
    src_cams = src.sample(rng, root)
    np.testing.assert_allclose(_quantiles(np.hypot(*(cams.eye - root)[:, [0, 2]].T)),
                               _quantiles(np.hypot(*(src_cams.eye - root)[:, [0, 2]].T)), atol=0.1)
    assert {tuple(s) for s in cams.image_size} <= {(1000, 1000), (1000, 1002)}
    np.testing.assert_allclose(cams.intrinsics[:, 0], src.sample(rng, root, view=cams.view).intrinsics[:, 0])
    # roll: the image's x axis tilts out of the horizontal by N(0, 3 deg); the source's cameras never roll
    tilt = np.degrees(np.arcsin(cams.rotation[:, 0, 1]))
    assert 2.5 < tilt.std() < 3.5
    assert np.abs(np.degrees(np.arcsin(src_cams.rotation[:, 0, 1]))).max() < 1e-6


def test_bodies_span_children_to_tall_adults_with_age_proportions():
    p = FACTOR_PRESETS["h36m+bodies"]
    bodies = preset_bodies(p)
    for subjects in (p.train_subjects, p.test_subjects):
        stature = rest_stature(np.stack([bodies[s] for s in subjects]))
        assert stature.min() < 1.3 and stature.max() > 1.8
    adults = rest_stature(np.stack(list(preset_bodies(SRC).values())))
    assert adults.min() > 1.4  # the source: adults only
    # children: relatively shorter legs and a larger head than adults (sitting-height ratio, head fraction)
    f = age_proportions(np.array([3.0, 8.0, 18.0]))
    leg, head = f[:, 1], f[:, 9]
    assert leg[0] < leg[1] < leg[2] == 1.0 and head[0] > head[1] > head[2] == 1.0
    lengths, stature, age = population_bone_lengths(np.random.default_rng(0), 400)
    np.testing.assert_allclose(rest_stature(lengths), stature)
    assert abs((age < 18).mean() - 0.25) < 0.01 and age.min() < 3.5
    kids, grown = lengths[age < 8], lengths[age >= 18]
    leg_share = lambda b: (b[:, 1] + b[:, 2]) / rest_stature(b)  # noqa: E731
    assert leg_share(kids).mean() < leg_share(grown).mean() - 0.02
    assert 1.60 < np.median(stature[age >= 18]) < 1.75
    # the factor preset films the source's classes, noise and rig
    ds = generate_synthetic("h36m+bodies", n=3000, seed=0, split="test")
    assert ds.meta["classes"] == sorted(SRC.classes) and ds.meta["rig"] == SRC.rig
    bone_sum = {s: bodies[s].sum() / MEAN_BONE_LENGTHS.sum() for s in np.unique(ds.subject)}
    assert min(bone_sum.values()) < 0.8 and max(bone_sum.values()) > 1.1


def test_local_factor_widens_every_angle_by_the_3dhp_noise_only():
    n = 6000
    _, _, ca, da = sample_world_poses(SRC, n, np.random.default_rng(2))
    _, _, cb, db = sample_world_poses(FACTOR_PRESETS["h36m+local"], n, np.random.default_rng(2))
    np.testing.assert_array_equal(ca, cb)  # the same class draws
    stand = sorted(SRC.classes).index("stand")
    widen = [np.std(db[k][cb == stand]) / np.std(da[k][ca == stand]) for k in DOF_NAMES
             if k not in ("pitch", "roll") and np.std(da[k][ca == stand]) > 0]
    assert np.median(widen) > 1.2


def test_classes_factor_shows_only_classes_the_source_never_shows():
    p = FACTOR_PRESETS["h36m+classes"]
    assert not set(p.classes) & set(SRC.classes)
    assert set(p.classes) | set(SRC.classes) == set(TGT.classes)
    assert all(p.classes[k] == TGT.classes[k] for k in p.classes)
    ds = generate_synthetic("h36m+classes", n=2000, seed=0, split="train")
    seen = {ds.meta["classes"][c] for c in np.unique(ds.sequence % 100)}
    assert seen == set(p.classes)

"""CMU mocap readers: exact FK on tiny fixtures, errors on corrupted files, plausibility on the shared real data."""
import numpy as np
import pytest

from posefast.geometry import project
from posefast.data.pose3d.asf_amc import asf_forward_kinematics, read_amc, read_asf
from posefast.data.pose3d.bvh import bvh_forward_kinematics, read_bvh
from posefast.data.pose3d.cmu import ASF_TO_H36M17, BVH_TO_H36M17, load_cmu, load_cmu_sequences
from posefast.data.pose3d.mocap import resample_indices, to_h36m17
from posefast.skeleton import H36M17

ASF = """# tiny test skeleton
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name up
     direction 0 1 0
     length 4.5
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-10.0 10.0)
           (-10.0 10.0)
           (-10.0 10.0)
  end
  begin
     id 2
     name fore
     direction 1 0 0
     length 9.0
     axis 0 0 90 XYZ
    dof rx
  end
:hierarchy
  begin
    root up
    up fore
  end
"""
AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 0 45 0 0 0 0
up 0 0 0
fore 0
2
root 0 0 0 0 90 0
up 0 0 90
fore 0
3
root 0 0 0 0 0 0
up 0 0 0
fore 90
"""
BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -2 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.1
0 10 0 0 0 0 0 0 0
0 10 0 90 0 0 0 0 90
0 10 0 0 0 0 90 90 0
"""
U = 0.0254 / 0.45  # metres per ASF unit


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_asf_amc_forward_kinematics_exact(tmp_path):
    skel = read_asf(_write(tmp_path, "test.asf", ASF))
    assert abs(skel.bones["up"].length - 4.5 * U) < 1e-12
    motion = read_amc(_write(tmp_path, "test_01.amc", AMC), skel)
    pos, names = asf_forward_kinematics(skel, motion)
    assert names == ["root", "up", "fore"] and pos.shape == (3, 3, 3)
    a, b = 4.5 * U, 9.0 * U
    # frame 1: translation only
    np.testing.assert_allclose(pos[0], [[0, 45 * U, 0], [0, 45 * U + a, 0], [b, 45 * U + a, 0]], atol=1e-12)
    # frame 2: root Ry(90), 'up' Rz(90): up -> +z; 'fore' (local frame Rz(90)) follows rigidly -> +y
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [0, 0, a], [0, b, a]], atol=1e-12)
    # frame 3: 'fore' rx = 90 about its local x, which its axis maps onto world y: +x turns to -z
    np.testing.assert_allclose(pos[2], [[0, 0, 0], [0, a, 0], [0, a, -b]], atol=1e-12)


def test_bvh_forward_kinematics_exact(tmp_path):
    bvh = read_bvh(_write(tmp_path, "t_01.bvh", BVH))
    assert abs(bvh.fps - 10) < 1e-9
    pos, names = bvh_forward_kinematics(bvh, metres_per_unit=1.0)
    assert names == ["Hips", "Arm", "Arm_end"]
    np.testing.assert_allclose(pos[0], [[0, 10, 0], [1, 10, 0], [1, 8, 0]], atol=1e-12)
    np.testing.assert_allclose(pos[1], [[0, 10, 0], [0, 11, 0], [2, 11, 0]], atol=1e-12)
    # channel order Z then X: R = Rz Rx, so the end offset (0, -2, 0) goes to (0, 0, -2)
    np.testing.assert_allclose(pos[2], [[0, 10, 0], [1, 10, 0], [1, 10, -2]], atol=1e-12)


def test_corrupted_mocap_files(tmp_path):
    with pytest.raises(ValueError, match="bad.asf: missing ':bonedata'"):
        read_asf(_write(tmp_path, "bad.asf", ASF.split(":bonedata")[0]))
    skel = read_asf(_write(tmp_path, "test.asf", ASF))
    truncated = AMC.rsplit("\n", 2)[0] + "\n"  # last frame loses its 'fore' line
    with pytest.raises(ValueError, match=r"cut_01.amc: frame 3 has 2 bone lines"):
        read_amc(_write(tmp_path, "cut_01.amc", truncated), skel)
    with pytest.raises(ValueError, match="non-numeric"):
        read_amc(_write(tmp_path, "nan_01.amc", AMC.replace("up 0 0 90", "up 0 x 90")), skel)
    with pytest.raises(ValueError, match="missing \\['fore'\\]"):
        read_amc(_write(tmp_path, "miss_01.amc", AMC.replace("fore 0\n", "").replace("fore 90\n", "")), skel)
    with pytest.raises(ValueError, match=r"short_01.bvh: MOTION has 26 values"):
        read_bvh(_write(tmp_path, "short_01.bvh", BVH[:-2]))
    with pytest.raises(ValueError, match="not a BVH"):
        read_bvh(_write(tmp_path, "x_01.bvh", "hello"))
    with pytest.raises(ValueError, match="bad CHANNELS"):
        read_bvh(_write(tmp_path, "ch_01.bvh", BVH.replace("Xrotation Yrotation", "Wrotation Yrotation")))


def test_resample_indices():
    np.testing.assert_array_equal(resample_indices(9, 120, 30), [0, 4, 8])
    np.testing.assert_array_equal(resample_indices(5, 120, 120), np.arange(5))
    with pytest.raises(ValueError, match="fps"):
        resample_indices(10, 120, 240)


def _bone_lengths(j):
    return np.linalg.norm(j[:, 1:] - j[:, list(H36M17.parents[1:])], axis=-1)


def _check_plausible(j, height_range):
    bl = _bone_lengths(j)
    assert bl.std(0).max() < 2e-3, "bone lengths must be constant over time"
    assert (bl.mean(0) > 0.05).all() and (bl.mean(0) < 0.6).all()
    low = j[:, [H36M17.joint("LAnkle"), H36M17.joint("RAnkle")], 1].min(1)
    assert 0.02 < np.median(low) < 0.2, "the lower ankle rests near the floor y = 0"
    height = np.median(j[:, H36M17.joint("Head"), 1] - low) + 0.08
    assert height_range[0] < height < height_range[1]
    assert 0.7 < np.median(j[:, 0, 1]) < 1.2  # pelvis height of a standing/walking adult


def test_real_asf_amc_walk(cmu_dir):
    skel = read_asf(cmu_dir / "asfamc" / "02" / "02.asf")
    assert abs(skel.metres_per_unit - U) < 1e-12
    motion = read_amc(cmu_dir / "asfamc" / "02" / "02_01.amc", skel)
    pos, names = asf_forward_kinematics(skel, motion)
    j = to_h36m17(pos, names, ASF_TO_H36M17)
    _check_plausible(j, (1.45, 2.0))
    left, right = j[:, H36M17.joint("LHip")], j[:, H36M17.joint("RHip")]
    assert np.median(np.linalg.norm(left - right, axis=-1)) < 0.35
    # subject 01's lfemur: 7.1578 units = 0.404 m (README of the shared data)
    s01 = read_asf(cmu_dir / "asfamc" / "01" / "01.asf")
    assert abs(s01.bones["lfemur"].length - 0.404) < 1e-3


def test_real_bvh_walk(cmu_dir):
    bvh = read_bvh(cmu_dir / "bvh" / "131_01.bvh")
    assert abs(bvh.fps - 120) < 0.1
    pos, names = bvh_forward_kinematics(bvh)
    _check_plausible(to_h36m17(pos, names, BVH_TO_H36M17), (1.3, 2.0))


def test_load_cmu_with_virtual_rig(cmu_dir):
    ds = load_cmu(cmu_dir, subjects=[2], fps=10)
    assert set(ds.subject) == {2} and set(np.unique(ds.sequence) // 100) == {2}
    assert set(ds.view) <= {0, 1, 2, 3}
    assert (ds.joints_3d[..., 2] > 0.3).all()
    np.testing.assert_allclose(project(ds.joints_3d, ds.camera).numpy(), ds.joints_2d, atol=0.05)
    assert (ds.joints_2d >= 0).all() and (ds.joints_2d[..., 0] <= ds.image_size[:, None, 0]).all()
    # the rig films from Human3.6M's distances: roots 3.5 - 7 m away
    assert 3.5 < np.median(ds.joints_3d[:, 0, 2]) < 7.0
    # every frame from each of the 4 cameras, less the samples dropped for leaving the image
    seqs = load_cmu_sequences(cmu_dir, subjects=[2], fps=10)
    assert len(ds.meta["sequences"]) == len(seqs) == 10
    assert ds.meta["frames"] == sum(len(s["joints"]) for s in seqs)
    assert len(ds) + ds.meta["dropped"] == 4 * ds.meta["frames"] and ds.meta["dropped"] < 0.2 * len(ds)
    rnd = load_cmu(cmu_dir, subjects=[131], fps=10, rig="3dhp")
    assert rnd.meta["dropped"] == 0 and set(rnd.subject) == {131}
    with pytest.raises(ValueError, match="split"):
        load_cmu(cmu_dir, split="train")

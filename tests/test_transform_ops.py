"""Pose-transform ops (Rodrigues, PoseAug BA/BL/RT, projection, PoseDA GPA, fused pipeline) against independent
float64 numpy/scipy references, their torch twins, gradcheck, opcheck and torch.compile."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import posefast
from posefast import H36M16, H36M17
from op_testing import (F64, PIXEL_CAM, assert_finite, cameras, compare_with_twin, gen, leaves, pipeline_inputs,
                        poses, rand)

SKELETONS = [H36M17, H36M16]


# ---- independent numpy references (float64) -------------------------------------------------------------------
def np_rotmat(rotvec):
    flat = np.asarray(rotvec, dtype=np.float64).reshape(-1, 3)
    mats = Rotation.from_rotvec(flat).as_matrix() if len(flat) else np.zeros((0, 3, 3))
    return mats.reshape(np.shape(rotvec)[:-1] + (3, 3))


def np_frozen(skel, frozen):
    names = skel.frozen_bones if frozen is None else frozen
    return {skel.joint_names.index(n) - 1 for n in names}


def np_bone_angle(x, delta, skel, frozen=None, eps=1e-6):
    keep = np_frozen(skel, frozen)
    out = np.empty_like(x)
    cos = np.zeros(x.shape[:-2] + (skel.num_bones,))
    out[..., 0, :] = x[..., 0, :]
    for b, (p, c) in enumerate(skel.bones):
        v = x[..., c, :] - x[..., p, :]
        if b in keep:
            new = v
        else:
            length = np.linalg.norm(v, axis=-1, keepdims=True)
            u = v / np.maximum(length, eps)
            w = u + delta[..., b, :]
            un = w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), eps)
            new = length * un
            cos[..., b] = 1 - (un * u).sum(-1)
        out[..., c, :] = out[..., p, :] + new
    return out, cos


def np_bone_length(x, ratio, skel):
    out = np.empty_like(x)
    out[..., 0, :] = x[..., 0, :]
    for b, (p, c) in enumerate(skel.bones):
        g = skel.bone_group_index[b]
        out[..., c, :] = out[..., p, :] + (1 + ratio[..., g, None]) * (x[..., c, :] - x[..., p, :])
    return out


def np_rigid(x, rotvec, t):
    R = np_rotmat(rotvec)
    return np.einsum("...ik,...jk->...ji", R, x - x[..., :1, :]) + t[..., None, :]


def np_project(X, cam, min_depth=1e-6):
    """VideoPose3D's project_to_2d / project_to_2d_linear, with the depth floor of our contract."""
    xy = X[..., :2] / np.maximum(X[..., 2:], min_depth)
    f, c = cam[..., None, :2], cam[..., None, 2:4]
    if cam.shape[-1] == 9:
        xy = np.clip(xy, -1, 1)
        r2 = (xy**2).sum(-1, keepdims=True)
        k, p = cam[..., None, 4:7], cam[..., None, 7:9]
        radial = 1 + k[..., :1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
        tan = (p * xy).sum(-1, keepdims=True)
        xy = xy * (radial + tan) + p * r2
    return f * xy + c


def np_gpa(x, tgt, cam, depth_range=(0.5, 50.0), min_scale=1e-6):
    fx, fy, cx, cy = (cam[..., i] for i in range(4))
    dx = x[..., 0].max(-1) - x[..., 0].min(-1)
    dy = x[..., 1].max(-1) - x[..., 1].min(-1)
    s = ((tgt[..., 0].max(-1) - tgt[..., 0].min(-1)) + (tgt[..., 1].max(-1) - tgt[..., 1].min(-1))) / 2
    z = np.clip((fx * dx + fy * dy) / (2 * np.maximum(s, min_scale)), *depth_range)
    root = np.stack([z * (tgt[..., 0, 0] - cx) / fx, z * (tgt[..., 0, 1] - cy) / fy, z], -1)
    return x - x[..., :1, :] + root[..., None, :]


def np_normalize_screen(uv, w, h):
    return uv / w * 2 - np.array([1, h / w])


def to_np(t):
    return t.detach().double().cpu().numpy()


# ---- forward values against numpy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(F64, 1e-12), (torch.float32, 1e-5)])
def test_forward_matches_numpy(dtype, tol, device):
    skel = H36M16
    x, d, r, rv, t, cam = (v.to(device=device, dtype=dtype) for v in pipeline_inputs((3, 2), skel, 0))
    xn, dn, rn, rvn, tn, camn = (to_np(v) for v in (x, d, r, rv, t, cam))
    close = lambda a, b, scale=1.0: np.testing.assert_allclose(to_np(a), b, rtol=tol, atol=tol * scale)  # noqa: E731
    close(posefast.rotvec_to_rotmat(rv), np_rotmat(rvn))
    ba, cos = posefast.bone_angle_augment(x, d, skel)
    ba_np, cos_np = np_bone_angle(xn, dn, skel)
    close(ba, ba_np)
    close(cos, cos_np)
    close(posefast.bone_length_augment(x, r, skel), np_bone_length(xn, rn, skel))
    close(posefast.rigid_transform(x, rv, t), np_rigid(xn, rvn, tn))
    pts = x + torch.tensor([0.0, 0.0, 4.0], dtype=dtype, device=device)
    for kind in (4, 9):
        close(posefast.project(pts, cam[..., :kind]), np_project(to_np(pts), camn[..., :kind]), 1e3)
    tgt = posefast.project(poses((3, 2), skel, 7, depth=6.0).to(device=device, dtype=dtype), cam[..., :4])
    close(posefast.global_position_align(x, tgt, cam[..., :4]), np_gpa(xn, to_np(tgt), camn[..., :4]))


def test_rotation_matches_scipy_over_angles():
    axis = rand((50, 3), 1)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    for angle in [0.0, 1e-12, 1e-7, 1e-3, 0.3, math.sqrt(0.1) * (1 - 1e-9), math.sqrt(0.1) * (1 + 1e-9), 1.0,
                  math.pi / 2, math.pi, 2 * math.pi, 7.0]:
        rv = axis * angle
        np.testing.assert_allclose(to_np(posefast.rotvec_to_rotmat(rv)), np_rotmat(to_np(rv)), rtol=0, atol=2e-15)


def test_rotation_by_pi_is_a_half_turn():
    n = torch.tensor([[1.0, 2.0, 2.0]], dtype=F64) / 3
    R = posefast.rotvec_to_rotmat(math.pi * n)[0]
    torch.testing.assert_close(R, 2 * n.T @ n - torch.eye(3, dtype=F64), rtol=0, atol=1e-15)
    rv, = leaves(math.pi * n)
    assert torch.autograd.gradcheck(posefast.rotvec_to_rotmat, (rv,))


def test_rotation_at_zero_has_identity_value_and_generator_gradient():
    rv = torch.zeros(1, 3, dtype=F64, requires_grad=True)
    R = posefast.rotvec_to_rotmat(rv)
    torch.testing.assert_close(R[0], torch.eye(3, dtype=F64), rtol=0, atol=0)
    G = rand((1, 3, 3), 2)
    (g,) = torch.autograd.grad((R * G).sum(), rv)
    # dR/dr_k at 0 is the cross-product generator of axis k, so <G, dR/dr> = (G21 − G12, G02 − G20, G10 − G01)
    G = G[0]
    axial = torch.stack([G[2, 1] - G[1, 2], G[0, 2] - G[2, 0], G[1, 0] - G[0, 1]])
    torch.testing.assert_close(g[0], axial, rtol=0, atol=1e-15)
    assert torch.autograd.gradcheck(posefast.rotvec_to_rotmat, (rv,))


def test_rotation_gradient_is_continuous_across_the_taylor_switch():
    axis = torch.tensor([0.3, -0.5, 0.8], dtype=F64)
    axis = axis / axis.norm()
    G = rand((3, 3), 3)
    grads, sides = [], []
    for factor in (1 - 4e-16, 1 + 4e-16):  # a few ulps either side of |r|² = 0.1
        rv = (axis * math.sqrt(0.1) * factor)[None].requires_grad_(True)
        sides.append(float((rv * rv).sum().detach()) < 0.1)
        (g,) = torch.autograd.grad((posefast.rotvec_to_rotmat(rv)[0] * G).sum(), rv)
        grads.append(g)
    assert sides == [True, False]
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-14, atol=1e-14)
    for angle in (1e-9, 1e-4, 0.2, math.sqrt(0.1), 0.5):  # both branches against finite differences
        rv, = leaves((axis * angle)[None])
        assert torch.autograd.gradcheck(posefast.rotvec_to_rotmat, (rv,), eps=1e-7, atol=1e-8)


def test_poseaug_tables():
    # PoseAug (16 joints) freezes bones 6 (pelvis→spine) and 7 (spine→thorax) and uses 9 symmetric BL groups.
    assert list(np.flatnonzero(H36M16.frozen_bone_mask)) == [6, 7]
    assert list(H36M16.bone_group_index) == [0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8]
    x = poses((4,), H36M16, 4)
    for g in range(H36M16.num_groups):
        ratio = torch.zeros(4, 9, dtype=F64)
        ratio[:, g] = 0.25
        bones_in = posefast.bone_vectors(x, H36M16)
        bones_out = posefast.bone_vectors(posefast.bone_length_augment(x, ratio, H36M16), H36M16)
        scale = bones_out.norm(dim=-1) / bones_in.norm(dim=-1)
        expected = torch.where(torch.as_tensor(H36M16.bone_group_index.copy()) == g, 1.25, 1.0).to(F64)
        torch.testing.assert_close(scale, expected.expand(4, -1), rtol=1e-12, atol=0)
        torch.testing.assert_close(bones_out / bones_out.norm(dim=-1, keepdim=True),
                                   bones_in / bones_in.norm(dim=-1, keepdim=True))


def test_bone_angle_keeps_lengths_root_and_frozen_directions():
    x, d = poses((5,), H36M16, 5), rand((5, 15, 3), 6, 0.5)
    out, cos = posefast.bone_angle_augment(x, d, H36M16)
    b_in, b_out = posefast.bone_vectors(x, H36M16), posefast.bone_vectors(out, H36M16)
    torch.testing.assert_close(b_out.norm(dim=-1), b_in.norm(dim=-1), rtol=1e-12, atol=0)
    torch.testing.assert_close(out[:, 0], x[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(b_out[:, [6, 7]], b_in[:, [6, 7]], rtol=0, atol=1e-15)
    assert cos[:, [6, 7]].abs().max() == 0
    # cos_change is 1 − cos of the angle each bone turned by
    cos_angle = (b_in * b_out).sum(-1) / (b_in.norm(dim=-1) * b_out.norm(dim=-1))
    torch.testing.assert_close(cos, 1 - cos_angle, rtol=1e-12, atol=1e-14)
    # frozen=() frees every bone; custom lists are honoured
    _, cos_free = posefast.bone_angle_augment(x, d, H36M16, frozen=())
    assert (cos_free[:, [6, 7]] > 0).all()
    out_knee, cos_knee = posefast.bone_angle_augment(x, d, H36M16, frozen=("RKnee",))
    assert cos_knee[:, H36M16.bone("RKnee")].abs().max() == 0 and (cos_knee[:, [6, 7]] > 0).all()
    np.testing.assert_allclose(to_np(out_knee), np_bone_angle(to_np(x), to_np(d), H36M16, ("RKnee",))[0], atol=1e-12)


def test_rigid_transform_is_rotation_about_root_then_placement():
    x, rv, t = poses((4,), H36M17, 8), rand((4, 3), 9), rand((4, 3), 10)
    out = posefast.rigid_transform(x, rv, t)
    torch.testing.assert_close(out[:, 0], t, rtol=0, atol=1e-15)
    # distances between joints are preserved
    torch.testing.assert_close(torch.cdist(out, out), torch.cdist(x, x), rtol=1e-12, atol=1e-12)


# ---- projection conventions -------------------------------------------------------------------------------------
def test_normalized_camera_projects_to_normalized_screen():
    w, h = 1000, 1002
    pts = poses((6,), H36M17, 11, depth=5.0)
    cam = cameras((6,), 12)
    for kind in (4, 9):
        c = cam[..., :kind]
        pix = posefast.project(pts, c)
        norm = posefast.project(pts, posefast.normalize_camera(c, w, h))
        torch.testing.assert_close(norm, posefast.normalize_screen(pix, w, h), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(to_np(posefast.normalize_screen(pix, w, h)), np_normalize_screen(to_np(pix), w, h),
                                   rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(posefast.denormalize_screen(norm, w, h), pix, rtol=1e-12, atol=1e-9)
    # per-pose image sizes
    ws, hs = torch.tensor([1000.0, 2048.0], dtype=F64), torch.tensor([1002.0, 1080.0], dtype=F64)
    pix = posefast.project(pts[:2], cam[:2])
    per_pose = posefast.normalize_screen(pix, ws, hs)
    for i in range(2):
        torch.testing.assert_close(per_pose[i], posefast.normalize_screen(pix[i:i + 1], float(ws[i]), float(hs[i]))[0])
        torch.testing.assert_close(posefast.project(pts[i:i + 1], posefast.normalize_camera(cam[:2], ws, hs)[i:i + 1]),
                                   per_pose[i:i + 1], rtol=1e-12, atol=1e-12)


def test_projection_at_and_behind_the_camera_plane():
    cam4 = torch.tensor([[1000.0, 1000.0, 500.0, 500.0]], dtype=F64)
    cam9 = torch.tensor([PIXEL_CAM], dtype=F64)
    pts = torch.tensor([[[0.1, -0.2, 0.0], [0.3, 0.1, -2.0], [0.0, 0.0, 0.0], [0.2, 0.1, 1e-9], [0.1, 0.2, 3.0]]],
                       dtype=F64, requires_grad=True)
    for cam in (cam4, cam9):
        uv = posefast.project(pts, cam)
        assert_finite(uv)
        np.testing.assert_allclose(to_np(uv), np_project(to_np(pts), to_np(cam)), rtol=1e-12)
        (g,) = torch.autograd.grad(uv.sum(), pts)
        assert_finite(g)
        assert g[0, :4, 2].abs().max() == 0  # depth floored: no gradient through z
        assert g[0, 4].abs().min() > 0
    # the distortion model clamps x/z, y/z to [−1, 1]: a far off-axis point lands on the clamp border
    uv9 = posefast.project(torch.tensor([[[5.0, 0.0, 1.0]]], dtype=F64), cam9)
    border = np_project(np.array([[[1.0, 0.0, 1.0]]]), to_np(cam9))
    np.testing.assert_allclose(to_np(uv9), border, rtol=1e-14)


# ---- GPA properties -------------------------------------------------------------------------------------------
def projected_scale(uv):
    box = uv.amax(-2) - uv.amin(-2)
    return (box[..., 0] + box[..., 1]) / 2


@pytest.mark.parametrize("normalized", [False, True])
def test_gpa_reprojects_root_and_scale(normalized):
    n, skel = 64, H36M17
    cam = cameras((n,), 13, kind=4)
    target = posefast.project(poses((n,), skel, 14, depth=0.0) + rand((n, 1, 3), 15, 1.0)
                              + torch.tensor([0.0, 0.0, 6.0], dtype=F64), cam)
    src = poses((n,), skel, 16, depth=3.0)
    if normalized:
        cam, target = posefast.normalize_camera(cam, 1000, 1002), posefast.normalize_screen(target, 1000, 1002)
    out = posefast.global_position_align(src, target, cam, depth_range=(0.1, 1e3))
    uv = posefast.project(out, cam)
    # the root lands exactly on the target root
    torch.testing.assert_close(uv[:, 0], target[:, 0], rtol=0, atol=1e-12 * float(target.abs().max()))
    torch.testing.assert_close(out - out[:, :1], src - src[:, :1], rtol=0, atol=1e-14)
    # scale: exact under weak perspective (every joint at the root depth) ...
    flat = out.clone()
    flat[..., 2] = out[:, :1, 2]
    torch.testing.assert_close(projected_scale(posefast.project(flat, cam)), projected_scale(target), rtol=1e-12, atol=0)
    # ... and within the documented perspective bound: joint j's projection differs from its weak-perspective one
    # by |uv_j − c| · |z_j − z_root| / z_root, so |s' − s| <= (max |u − cx| + max |v − cy|) · max |z_j − z_root| / z_root
    z = out[:, 0, 2]
    dz = (out[..., 2] - z[:, None]).abs()
    bound = ((uv - cam[:, None, 2:4]).abs().amax(-2).sum(-1)) * dz.amax(-1) / z
    err = (projected_scale(uv) - projected_scale(target)).abs()
    assert (err <= bound * (1 + 1e-9) + 1e-12).all()
    assert (err > 0).any()  # the bound is not vacuous: these poses do have depth


@pytest.mark.parametrize("where", ["target_2d", "joints_3d"])
def test_gpa_nan_input_propagates_like_the_twin(where):
    # the extents are branch-free max/min plus a NaN flag: a NaN anywhere in a pose's extent gives a NaN pose (as
    # torch.amax/amin do in the twin), never a silently finite one; other poses are untouched
    src, cam = poses((4,), H36M16, 23), cameras((4,), 24, kind=4)
    target = posefast.project(poses((4,), H36M16, 25, depth=5.0), cam)
    bad = {"target_2d": target, "joints_3d": src}[where]
    bad[1, 7, 0] = float("nan")
    out = posefast.global_position_align(src, target, cam)
    with posefast.use_kernels(False):
        ref = posefast.global_position_align(src, target, cam)
    assert torch.isnan(out[1]).any() and torch.isnan(ref[1]).any()
    torch.testing.assert_close(out, ref, equal_nan=True)
    assert torch.isfinite(out[[0, 2, 3]]).all()


def test_gpa_per_sample_cameras():
    # the published function reads the focal length of the batch's first camera; ours uses each pose's own
    src, cam = poses((2,), H36M16, 17), cameras((2,), 18, kind=4)
    cam[1, :2] *= 2.0
    target = posefast.project(poses((2,), H36M16, 19, depth=5.0), cam)
    out = posefast.global_position_align(src, target, cam)
    for i in range(2):
        torch.testing.assert_close(out[i], posefast.global_position_align(src[i:i + 1], target[i:i + 1], cam[i:i + 1])[0])
    assert not torch.allclose(out[1], posefast.global_position_align(src[1:], target[1:], cam[:1]).squeeze(0))


def test_gpa_degenerate_scale_and_depth_clamp():
    src = poses((3,), H36M17, 20).requires_grad_(True)
    cam = cameras((3,), 21, kind=4).requires_grad_(True)
    target = posefast.project(poses((3,), H36M17, 22, depth=5.0), cam.detach())
    target = target.detach().clone()
    target[0] = target[0, :1]  # every target keypoint coincident: s = 0
    target.requires_grad_(True)
    with torch.no_grad():
        src[1] = src[1, :1]  # a collapsed source pose: Δx = Δy = 0
    out = posefast.global_position_align(src, target, cam, depth_range=(0.5, 50.0))
    assert_finite(out)
    assert float(out[0, 0, 2].detach()) == 50.0 and float(out[1, 0, 2].detach()) == 0.5
    grads = torch.autograd.grad(out.square().sum(), (src, target, cam))
    assert_finite(*grads)
    compare_with_twin(posefast.global_position_align, [src.detach(), target.detach(), cam.detach()])


# ---- bone degeneracies ---------------------------------------------------------------------------------------------
def test_zero_length_bones_and_cancelling_offsets():
    x = poses((3,), H36M17, 23)
    x[0, 2] = x[0, 1]  # RHip -> RKnee has zero length
    x[1] = x[1, :1]  # every bone has zero length
    d = rand((3, 16, 3), 24, 0.3)
    bone = H36M17.bone("RKnee")
    u = posefast.bone_vectors(x, H36M17)[2, bone]
    d[2, bone] = -u / u.norm()  # u + delta = 0 up to rounding: the bone collapses (|u + delta| < eps)
    x.requires_grad_(True)
    d.requires_grad_(True)
    out, cos = posefast.bone_angle_augment(x, d, H36M17)
    assert_finite(out, cos)
    b_out = posefast.bone_vectors(out, H36M17)
    assert b_out[0, bone].abs().max() == 0 and float(cos.detach()[0, bone]) == 1.0
    assert b_out[1].abs().max() == 0
    assert float(b_out[2, bone].detach().norm()) < 1e-9 and abs(float(cos.detach()[2, bone]) - 1.0) < 1e-9
    grads = torch.autograd.grad(out.square().sum() + cos.sum(), (x, d))
    assert_finite(*grads)
    compare_with_twin(lambda a, b: posefast.bone_angle_augment(a, b, H36M17), [x.detach(), d.detach()])
    out_bl = posefast.bone_length_augment(x, rand((3, 10), 25, 0.2), H36M17)
    assert posefast.bone_vectors(out_bl, H36M17)[1].abs().max() == 0


# ---- gradients ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skel", SKELETONS, ids=lambda s: s.name)
def test_gradcheck(skel, device):
    x, d, r, rv, t, cam = (v.to(device) for v in leaves(*pipeline_inputs((2,), skel, 26)))
    cam_n = leaves(posefast.normalize_camera(cam.detach(), 1000, 1002))[0]
    gc = torch.autograd.gradcheck
    assert gc(posefast.rotvec_to_rotmat, (rv,))
    assert gc(lambda a, b: posefast.bone_angle_augment(a, b, skel), (x, d))
    assert gc(lambda a, b: posefast.bone_angle_augment(a, b, skel, frozen=()), (x, d))
    assert gc(lambda a, b: posefast.bone_length_augment(a, b, skel), (x, r))
    assert gc(posefast.rigid_transform, (x, rv, t))
    pts = leaves(x.detach() + torch.tensor([0.0, 0.0, 4.0], dtype=F64, device=device))[0]
    for kind in (4, 9):
        assert gc(posefast.project, (pts, cam_n[..., :kind].detach().requires_grad_(True)))
    tgt = leaves(posefast.project(poses((2,), skel, 27, depth=6.0).to(device), cam_n[..., :4].detach()))[0]
    assert gc(posefast.global_position_align, (x, tgt, cam_n[..., :4].detach().requires_grad_(True)))
    assert gc(lambda *a: posefast.augment_pipeline(*a, skel), (x, d, r, rv, t, cam_n))
    assert gc(lambda *a: posefast.augment_pipeline(*a[:5], cam_n[..., :4].detach(), skel), (x, d, r, rv, t))
    # screen normalisation, per-pose tensor image sizes included
    uv = leaves(rand((2, 5, 2), 28, 300.0).to(device))[0]
    wh = leaves(torch.tensor([1000.0, 640.0], dtype=F64, device=device), torch.tensor([1002.0, 480.0], dtype=F64,
                                                                                       device=device))
    assert gc(posefast.normalize_screen, (uv, *wh))
    assert gc(posefast.denormalize_screen, (uv, *wh))
    assert gc(posefast.normalize_camera, (cam, *wh))


def test_gradcheck_in_clamped_regions():
    # projection with points beyond the distortion clamp and behind the camera; GPA with its depth clamp active
    pts, = leaves(torch.tensor([[[2.0, 0.1, 1.0], [0.2, -3.0, 1.0], [0.1, 0.2, -1.0], [0.3, 0.2, 2.0]]], dtype=F64))
    cam, = leaves(torch.tensor([PIXEL_CAM], dtype=F64))
    assert torch.autograd.gradcheck(posefast.project, (pts, cam))
    src, tgt = leaves(poses((2,), H36M16, 29), rand((2, 16, 2), 30, 1e-3))
    cam4, = leaves(cameras((2,), 31, kind=4))
    assert torch.autograd.gradcheck(lambda a, b, c: posefast.global_position_align(a, b, c, (0.5, 5.0)), (src, tgt, cam4))


@pytest.mark.parametrize("skel", SKELETONS, ids=lambda s: s.name)
def test_same_cotangents_through_kernel_and_twin(skel):
    x, d, r, rv, t, cam = pipeline_inputs((4,), skel, 32)
    compare_with_twin(posefast.rotvec_to_rotmat, [rv])
    compare_with_twin(lambda a, b: posefast.bone_angle_augment(a, b, skel), [x, d])
    compare_with_twin(lambda a, b: posefast.bone_length_augment(a, b, skel), [x, r])
    compare_with_twin(posefast.rigid_transform, [x, rv, t])
    pts = x + torch.tensor([0.0, 0.0, 4.0], dtype=F64)
    compare_with_twin(posefast.project, [pts, cam])
    compare_with_twin(posefast.project, [pts, cam[..., :4]])
    tgt = posefast.project(poses((4,), skel, 33, depth=6.0), cam[..., :4])
    compare_with_twin(posefast.global_position_align, [x, tgt, cam[..., :4]])
    compare_with_twin(lambda *a: posefast.augment_pipeline(*a, skel), [x, d, r, rv, t, cam])


# ---- fused pipeline == chain of single ops -------------------------------------------------------------------------
def grads_or_zeros(loss, xs):
    """Gradients of loss w.r.t. xs; inputs the loss does not reach get zeros (what the fused backward returns)."""
    grads = torch.autograd.grad(loss, xs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]


def chain(x, d, r, rv, t, cam, skel):
    ba, cos = posefast.bone_angle_augment(x, d, skel)
    bl = posefast.bone_length_augment(ba, r, skel)
    rt = posefast.rigid_transform(bl, rv, t)
    return ba, bl, rt, posefast.project(rt, cam), cos


@pytest.mark.parametrize("kind", [4, 9])
@pytest.mark.parametrize("used", [(0, 1, 2, 3, 4), (3,), (4,), (0, 4), (1, 2)], ids=str)
def test_fused_pipeline_equals_chain(kind, used):
    skel = H36M16
    inputs = pipeline_inputs((3, 2), skel, 34, kind)
    results = []
    for fn in (lambda *a: posefast.augment_pipeline(*a, skel), lambda *a: chain(*a, skel)):
        xs = leaves(*inputs)
        outs = fn(*xs)
        loss = sum((o * rand(o.shape, 35 + i)).sum() for i, o in enumerate(outs) if i in used)
        results.append((outs, grads_or_zeros(loss, xs)))
    (fo, fg), (co, cg) = results
    for a, b in zip(fo, co):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # same per-pose helpers, same operation order
    for a, b in zip(fg, cg):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# ---- op contract: opcheck, torch.compile ---------------------------------------------------------------------------
def test_opcheck():
    from posefast.ops._tables import table

    skel = H36M16
    x, d, r, rv, t, cam = leaves(*pipeline_inputs((3,), skel, 36))
    parents = table(skel, "parents", x.device)
    frozen = table(skel, "frozen", x.device, torch.uint8)
    groups = table(skel, "bone_groups", x.device)
    tgt = posefast.project(poses((3,), skel, 37, depth=6.0), cam[..., :4].detach()).requires_grad_(True)
    pts = (x.detach() + torch.tensor([0, 0, 4.0], dtype=F64)).requires_grad_(True)
    ops = torch.ops.posefast
    g = lambda *shape: rand(shape, 38)  # noqa: E731
    torch.library.opcheck(ops.rotvec_to_rotmat, (rv,))
    torch.library.opcheck(ops.rotvec_to_rotmat_backward, (g(3, 3, 3), rv.detach()))
    torch.library.opcheck(ops.bone_angle_augment, (x, d, parents, frozen, 1e-6))
    torch.library.opcheck(ops.bone_angle_augment_backward, (g(3, 16, 3), g(3, 15), x.detach(), d.detach(), parents,
                                                            frozen, 1e-6))
    torch.library.opcheck(ops.bone_angle_augment_backward, (None, g(3, 15), x.detach(), d.detach(), parents, frozen,
                                                            1e-6))
    torch.library.opcheck(ops.bone_length_augment, (x, r, parents, groups))
    torch.library.opcheck(ops.bone_length_augment_backward, (g(3, 16, 3), x.detach(), r.detach(), parents, groups))
    torch.library.opcheck(ops.rigid_transform, (x, rv, t))
    torch.library.opcheck(ops.rigid_transform_backward, (g(3, 16, 3), x.detach(), rv.detach()))
    for kind in (4, 9):
        c = cam[..., :kind].detach().requires_grad_(True)
        torch.library.opcheck(ops.project, (pts, c, 1e-6))
        torch.library.opcheck(ops.project_backward, (g(3, 16, 2), pts.detach(), c.detach(), 1e-6))
    c4 = cam[..., :4].detach().requires_grad_(True)
    torch.library.opcheck(ops.global_position_align, (x, tgt, c4, 1e-6, 0.5, 50.0))
    torch.library.opcheck(ops.global_position_align_backward, (g(3, 16, 3), x.detach(), tgt.detach(), c4.detach(),
                                                               1e-6, 0.5, 50.0))
    torch.library.opcheck(ops.augment_pipeline, (x, d, r, rv, t, cam, parents, frozen, groups, 1e-6, 1e-6))
    saved = [o.detach() for o in ops.augment_pipeline(x, d, r, rv, t, cam, parents, frozen, groups, 1e-6, 1e-6)[:3]]
    plain = [v.detach() for v in (x, d, r, rv, cam)]
    torch.library.opcheck(ops.augment_pipeline_backward, (g(3, 16, 3), None, g(3, 16, 3), g(3, 16, 2), None, *plain,
                                                          *saved, parents, frozen, groups, 1e-6, 1e-6))


def test_torch_compile_fullgraph():
    skel = H36M16

    def f(x, d, r, rv, t, cam, tgt):
        ba, cos = posefast.bone_angle_augment(x, d, skel)
        bl = posefast.bone_length_augment(ba, r, skel)
        rt = posefast.rigid_transform(bl, rv, t)
        uv = posefast.project(rt, cam)
        aligned = posefast.global_position_align(x, tgt, cam[..., :4])
        fused = posefast.augment_pipeline(x, d, r, rv, t, cam, skel)
        return (uv.square().sum() + cos.sum() + aligned.square().sum() + posefast.rotvec_to_rotmat(rv).sum()
                + fused[3].square().sum() + fused[4].sum() + posefast.normalize_screen(uv, 1000, 1002).sum())

    inputs = [v.float() for v in pipeline_inputs((5,), skel, 39)]
    inputs.append(posefast.project(poses((5,), skel, 40, depth=6.0, dtype=torch.float32), inputs[5][..., :4]))
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    xs_c, xs_e = leaves(*inputs, dtype=torch.float32), leaves(*inputs, dtype=torch.float32)
    out_c, out_e = compiled(*xs_c), f(*xs_e)
    torch.testing.assert_close(out_c, out_e)
    for a, b in zip(torch.autograd.grad(out_c, xs_c), torch.autograd.grad(out_e, xs_e)):
        torch.testing.assert_close(a, b)


# ---- float32 accuracy -----------------------------------------------------------------------------------------------
def max_rel(a, b):
    """max |a − b| / max |b| for one output (normwise, so near-zero entries do not blow it up)."""
    a, b = a.detach(), b.detach()
    return float((a.double() - b).abs().max() / b.abs().max().clamp(min=1e-300))


def float32_errors(n=256, seed=41):
    """Max relative error of float32 forward values and gradients against float64, per op (see report)."""
    skel = H36M16
    inputs = pipeline_inputs((n,), skel, seed)
    inputs_n = inputs[:5] + [posefast.normalize_camera(inputs[5], 1000, 1002)]
    tgt = posefast.project(poses((n,), skel, seed + 1, depth=6.0), inputs_n[5][..., :4])
    pts = inputs[0] + torch.tensor([0.0, 0.0, 4.0], dtype=F64)
    cases = {
        "rotvec_to_rotmat": (posefast.rotvec_to_rotmat, [inputs[3]]),
        "bone_angle_augment": (lambda a, b: posefast.bone_angle_augment(a, b, skel), inputs[:2]),
        "bone_length_augment": (lambda a, b: posefast.bone_length_augment(a, b, skel), [inputs[0], inputs[2]]),
        "rigid_transform": (posefast.rigid_transform, [inputs[0], inputs[3], inputs[4]]),
        "project (9, normalised)": (posefast.project, [pts, inputs_n[5]]),
        "project (9, pixels)": (posefast.project, [pts, inputs[5]]),
        "global_position_align": (posefast.global_position_align, [inputs[0], tgt, inputs_n[5][..., :4]]),
        "augment_pipeline": (lambda *a: posefast.augment_pipeline(*a, skel), inputs_n),
    }
    errors = {}
    for name, (fn, args) in cases.items():
        res = {}
        for dtype in (F64, torch.float32):
            xs = leaves(*args, dtype=dtype)
            outs = fn(*xs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            cot = [rand(o.shape, seed + 2 + i).to(dtype) for i, o in enumerate(outs)]
            res[dtype] = outs, torch.autograd.grad(outs, xs, cot)
        errors[name] = (max(max_rel(a, b) for a, b in zip(res[torch.float32][0], res[F64][0])),
                        max(max_rel(a, b) for a, b in zip(res[torch.float32][1], res[F64][1])))
    return errors


def test_float32_relative_error():
    for name, (fwd, grad) in float32_errors().items():
        assert fwd < 2e-6, (name, fwd)
        assert grad < 2e-5, (name, grad)


# ---- hypothesis: random shapes, values, dtypes ----------------------------------------------------------------------
batch_shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
seeds = st.integers(0, 2**31 - 1)


@given(shape=batch_shapes, seed=seeds, angle=st.sampled_from([0.0, 1e-9, 1e-4, 0.1, 0.316, 0.317, 1.0, math.pi, 10.0]))
def test_hypothesis_rotvec_to_rotmat(shape, seed, angle):
    axis = rand(shape + (3,), seed)
    rv = axis / axis.norm(dim=-1, keepdim=True).clamp(min=1e-12) * angle
    R = posefast.rotvec_to_rotmat(rv)
    assert R.shape == shape + (3, 3)
    np.testing.assert_allclose(to_np(R), np_rotmat(to_np(rv)), rtol=0, atol=5e-15)
    np.testing.assert_allclose(to_np(posefast.rotvec_to_rotmat(rv.float())), to_np(R), rtol=0, atol=2e-6)
    if 0 not in shape:
        compare_with_twin(posefast.rotvec_to_rotmat, [rv], seed=seed)


@given(shape=batch_shapes, seed=seeds, skel=st.sampled_from(SKELETONS), scale=st.sampled_from([0.0, 0.1, 1.0, 10.0]),
       frozen=st.sampled_from([None, (), ("RKnee", "LElbow")]), dtype=st.sampled_from([F64, torch.float32]))
def test_hypothesis_bone_angle_augment(shape, seed, skel, scale, frozen, dtype):
    x, d = poses(shape, skel, seed), rand(shape + (skel.num_bones, 3), seed + 1, scale)
    out, cos = posefast.bone_angle_augment(x.to(dtype), d.to(dtype), skel, frozen)
    ref, ref_cos = np_bone_angle(to_np(x), to_np(d), skel, frozen)
    tol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(to_np(out), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(cos), ref_cos, rtol=tol, atol=tol)
    if 0 not in shape and dtype == F64:
        compare_with_twin(lambda a, b: posefast.bone_angle_augment(a, b, skel, frozen), [x, d], seed=seed)


@given(shape=batch_shapes, seed=seeds, skel=st.sampled_from(SKELETONS), scale=st.sampled_from([0.0, 0.2, 2.0]),
       dtype=st.sampled_from([F64, torch.float32]))
def test_hypothesis_bone_length_augment(shape, seed, skel, scale, dtype):
    x, r = poses(shape, skel, seed), rand(shape + (skel.num_groups,), seed + 1, scale)
    out = posefast.bone_length_augment(x.to(dtype), r.to(dtype), skel)
    tol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(to_np(out), np_bone_length(to_np(x), to_np(r), skel), rtol=tol, atol=tol)
    if 0 not in shape and dtype == F64:
        compare_with_twin(lambda a, b: posefast.bone_length_augment(a, b, skel), [x, r], seed=seed)


@given(shape=batch_shapes, seed=seeds, joints=st.integers(1, 20), angle=st.sampled_from([0.0, 1e-6, 0.3, math.pi, 6.0]),
       dtype=st.sampled_from([F64, torch.float32]))
def test_hypothesis_rigid_transform(shape, seed, joints, angle, dtype):
    x, t = rand(shape + (joints, 3), seed), rand(shape + (3,), seed + 1)
    axis = rand(shape + (3,), seed + 2)
    rv = axis / axis.norm(dim=-1, keepdim=True).clamp(min=1e-12) * angle
    out = posefast.rigid_transform(x.to(dtype), rv.to(dtype), t.to(dtype))
    tol = 1e-12 if dtype == F64 else 2e-5
    np.testing.assert_allclose(to_np(out), np_rigid(to_np(x), to_np(rv), to_np(t)), rtol=tol, atol=tol)
    if 0 not in shape and dtype == F64:
        compare_with_twin(posefast.rigid_transform, [x, rv, t], seed=seed)


@given(shape=batch_shapes, seed=seeds, points=st.integers(0, 20), kind=st.sampled_from([4, 9]),
       normalized=st.booleans(), near=st.sampled_from([0.0, -3.0]), dtype=st.sampled_from([F64, torch.float32]))
def test_hypothesis_project(shape, seed, points, kind, normalized, near, dtype):
    # depths from `near` to 8: with near < 0 some points lie at or behind the camera plane
    pts = rand(shape + (points, 3), seed, 0.5)
    pts[..., 2] = torch.rand(shape + (points,), generator=gen(seed + 1), dtype=F64) * (8.0 - near) + near
    cam = cameras(shape, seed + 2, kind)
    if normalized:
        cam = posefast.normalize_camera(cam, 1000, 1002)
    uv = posefast.project(pts.to(dtype), cam.to(dtype))
    assert uv.shape == shape + (points, 2)
    ref = np_project(to_np(pts), to_np(cam))
    if dtype == F64:
        np.testing.assert_allclose(to_np(uv), ref, rtol=1e-12, atol=1e-9)
    else:  # compare where float32 rounding cannot flip the clamp or the depth floor
        xy = to_np(pts)[..., :2] / np.maximum(to_np(pts)[..., 2:], 1e-6)
        ok = (to_np(pts)[..., 2] > 1e-3) & ((np.abs(np.abs(xy) - 1) > 1e-4).all(-1) if kind == 9 else True)
        scale = max(1.0, float(np.abs(ref[ok]).max())) if ok.any() else 1.0
        np.testing.assert_allclose(to_np(uv)[ok], ref[ok], rtol=1e-5, atol=1e-5 * scale)
    if 0 not in shape and points and dtype == F64:
        compare_with_twin(posefast.project, [pts, cam], seed=seed, rtol=1e-9, atol=1e-6)


@given(shape=batch_shapes, seed=seeds, skel=st.sampled_from(SKELETONS), normalized=st.booleans(),
       target_scale=st.sampled_from([1.0, 1e-4, 0.0]), dtype=st.sampled_from([F64, torch.float32]))
def test_hypothesis_global_position_align(shape, seed, skel, normalized, target_scale, dtype):
    cam = cameras(shape, seed, 4)
    tgt = posefast.project(poses(shape, skel, seed + 1) * target_scale + torch.tensor([0.0, 0.0, 6.0], dtype=F64), cam)
    if normalized:
        cam, tgt = posefast.normalize_camera(cam, 1000, 1002), posefast.normalize_screen(tgt, 1000, 1002)
    src = poses(shape, skel, seed + 2)
    out = posefast.global_position_align(src.to(dtype), tgt.to(dtype), cam.to(dtype))
    ref = np_gpa(to_np(src), to_np(tgt), to_np(cam))
    tol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(to_np(out), ref, rtol=tol, atol=tol * max(1.0, float(np.abs(ref).max(initial=0))))
    if 0 not in shape and dtype == F64:
        compare_with_twin(posefast.global_position_align, [src, tgt, cam], seed=seed)


@given(shape=nonempty_shapes, seed=seeds, skel=st.sampled_from(SKELETONS), kind=st.sampled_from([4, 9]),
       used=st.sets(st.integers(0, 4), min_size=1))
def test_hypothesis_augment_pipeline(shape, seed, skel, kind, used):
    inputs = pipeline_inputs(shape, skel, seed, kind)
    inputs[5] = posefast.normalize_camera(inputs[5], 1000, 1002)
    results = []
    for fn in (lambda *a: posefast.augment_pipeline(*a, skel), lambda *a: chain(*a, skel)):
        xs = leaves(*inputs)
        outs = fn(*xs)
        loss = sum((o * rand(o.shape, seed + 10 + i)).sum() for i, o in enumerate(outs) if i in used)
        results.append((outs, grads_or_zeros(loss, xs)))
    (fo, fg), (co, cg) = results
    for a, b in zip(fo, co):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(fg, cg):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # and the numpy chain
    xn = [to_np(v) for v in inputs]
    ba, cos = np_bone_angle(xn[0], xn[1], skel)
    rt = np_rigid(np_bone_length(ba, xn[2], skel), xn[3], xn[4])
    np.testing.assert_allclose(to_np(fo[2]), rt, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_np(fo[3]), np_project(rt, xn[5]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_np(fo[4]), cos, rtol=1e-12, atol=1e-12)


# ---- shapes, layout -----------------------------------------------------------------------------------------------
def test_empty_batch_forward_and_backward():
    skel = H36M17
    xs = leaves(*pipeline_inputs((0, 2), skel, 42))
    outs = posefast.augment_pipeline(*xs, skel)
    assert [tuple(o.shape) for o in outs] == [(0, 2, 17, 3)] * 3 + [(0, 2, 17, 2), (0, 2, 16)]
    grads = torch.autograd.grad(sum(o.sum() for o in outs), xs)
    assert [g.shape for g in grads] == [x.shape for x in xs]
    assert posefast.project(torch.zeros(3, 0, 3), torch.ones(3, 4)).shape == (3, 0, 2)
    assert posefast.rotvec_to_rotmat(torch.zeros(0, 3)).shape == (0, 3, 3)


def test_non_contiguous_inputs():
    skel = H36M16
    inputs = pipeline_inputs((6,), skel, 43)
    strided = [v.transpose(0, -1).contiguous().transpose(0, -1) for v in inputs]
    assert not strided[0].is_contiguous()
    for a, b in zip(posefast.augment_pipeline(*strided, skel), posefast.augment_pipeline(*inputs, skel)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(posefast.project(strided[0][::2], strided[5][::2]),
                               posefast.project(inputs[0][::2].contiguous(), inputs[5][::2].contiguous()))


# ---- bad input ------------------------------------------------------------------------------------------------------
def test_bad_inputs_are_named():
    skel = H36M16
    x, d, r, rv, t, cam = pipeline_inputs((4,), skel, 44)
    cases = [
        (lambda: posefast.rotvec_to_rotmat(torch.zeros(4, 4)), ValueError, r"rotvec: expected shape \[\.\.\., 3\]"),
        (lambda: posefast.rotvec_to_rotmat(torch.zeros(3, dtype=torch.int64)), TypeError, r"rotvec: expected float32"),
        (lambda: posefast.bone_angle_augment(x, d[:, :14], skel), ValueError, r"delta: expected shape \[\.\.\., 15, 3\]"),
        (lambda: posefast.bone_angle_augment(x, d[:2], skel), ValueError, r"delta: expected leading dims \[4\]"),
        (lambda: posefast.bone_angle_augment(x, d.float(), skel), TypeError, r"delta: expected dtype torch.float64"),
        (lambda: posefast.bone_angle_augment(x, d, skel, frozen=("Neck",)), ValueError, r"frozen: 'Neck' is not a bone"),
        (lambda: posefast.bone_angle_augment(x, d, skel, frozen=("Pelvis",)), ValueError, r"frozen: 'Pelvis'"),
        (lambda: posefast.bone_angle_augment(x, d, skel, frozen="Spine"), TypeError, r"frozen: expected a sequence"),
        (lambda: posefast.bone_angle_augment(x, d, skel, eps=0.0), ValueError, r"eps: expected a positive"),
        (lambda: posefast.bone_angle_augment(x[..., :2], d, skel), ValueError, r"joints: expected shape \[\.\.\., 16, 3\]"),
        (lambda: posefast.bone_length_augment(x, r[:, :8], skel), ValueError, r"ratio: expected shape \[\.\.\., 9\]"),
        (lambda: posefast.bone_length_augment(x, r[None], skel), ValueError, r"ratio: expected leading dims \[4\]"),
        (lambda: posefast.rigid_transform(x, rv[:1], t), ValueError, r"rotvec: expected leading dims \[4\]"),
        (lambda: posefast.rigid_transform(x, rv, t[..., :2]), ValueError, r"translation: expected shape"),
        (lambda: posefast.rigid_transform(x[:, :0], rv, t), ValueError, r"joints: expected at least one joint"),
        (lambda: posefast.project(x, cam[..., :5]), ValueError, r"camera: expected shape \[\.\.\., 4\] or \[\.\.\., 9\]"),
        (lambda: posefast.project(x, cam[:1]), ValueError, r"camera: expected leading dims \[4\]"),
        (lambda: posefast.project(x, cam[0]), ValueError, r"camera: expected leading dims \[4\]"),
        (lambda: posefast.project(x[..., :2], cam), ValueError, r"points: expected shape \[\.\.\., \*, 3\]"),
        (lambda: posefast.project(x, cam, min_depth=-1.0), ValueError, r"min_depth: expected a positive"),
        (lambda: posefast.project(x, cam, min_depth=float("nan")), ValueError, r"min_depth: expected a positive"),
        (lambda: posefast.global_position_align(x, x[..., :2], cam), ValueError, r"camera: expected shape \[\.\.\., 4\]"),
        (lambda: posefast.global_position_align(x, x[:, :5, :2], cam[..., :4]), ValueError, r"target_2d: expected shape \[\.\.\., 16, 2\]"),
        (lambda: posefast.global_position_align(x, x[:2, :, :2], cam[..., :4]), ValueError, r"target_2d: expected leading dims"),
        (lambda: posefast.global_position_align(x, x[..., :2], cam[..., :4], depth_range=(5.0, 1.0)), ValueError, r"depth_range: expected 0 < min < max"),
        (lambda: posefast.global_position_align(x, x[..., :2], cam[..., :4], depth_range=3.0), ValueError, r"depth_range: expected \(min, max\)"),
        (lambda: posefast.global_position_align(x, x[..., :2], cam[..., :4], min_scale=0), ValueError, r"min_scale: expected a positive"),
        (lambda: posefast.augment_pipeline(x, d, r, rv, t, cam[:2], skel), ValueError, r"camera: expected leading dims \[4\]"),
        (lambda: posefast.augment_pipeline(x, d, r, rv, t.float(), cam, skel), TypeError, r"translation: expected dtype"),
        (lambda: posefast.normalize_screen(x[..., :2], 0, 1000), ValueError, r"w: expected a positive"),
        (lambda: posefast.normalize_screen(x[..., :2], torch.ones(3, dtype=F64), 1000), ValueError, r"w: expected a number or a tensor of shape \[4\]"),
        (lambda: posefast.normalize_camera(cam[..., :3], 1000, 1000), ValueError, r"camera: expected shape \[\.\.\., 4\] or"),
        (lambda: posefast.normalize_camera(cam, torch.ones(4), 1000), TypeError, r"w: expected dtype torch.float64"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    skel = H36M16
    inputs = [v.float() for v in pipeline_inputs((256,), skel, 45)]
    inputs[5] = posefast.normalize_camera(inputs[5], 1000, 1002)
    tgt = posefast.project(poses((256,), skel, 46, depth=6.0, dtype=torch.float32), inputs[5][..., :4])
    cases = [
        (lambda *a: posefast.augment_pipeline(*a, skel), inputs),
        (lambda *a: chain(*a, skel), inputs),
        (posefast.global_position_align, [inputs[0], tgt, inputs[5][..., :4]]),
        (posefast.rotvec_to_rotmat, [inputs[3]]),
    ]
    for fn, args in cases:
        res = []
        for dev in ("cpu", "cuda"):
            xs = [a.to(dev).requires_grad_(True) for a in args]
            outs = fn(*xs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            grads = torch.autograd.grad(sum(o.square().sum() for o in outs), xs)
            res.append(([o.cpu() for o in outs], [g.cpu() for g in grads]))
        for a, b in zip(res[1][0] + res[1][1], res[0][0] + res[0][1]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max().clamp(min=1)))

"""Gradient reversal, patch discriminator and the EMA mean teacher."""
import pytest
import torch
from torch import nn

from posefast.models import EMATeacher, GradientReversal, PatchDiscriminator, grad_reverse



@pytest.mark.parametrize("coeff", [1.0, 0.5, 2.0, 0.0])
def test_gradient_reversal_sign_and_magnitude(coeff):
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(4, 3)
    layer = GradientReversal(coeff)
    y = layer(x)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -coeff * w)
    x2 = x.detach().clone().requires_grad_(True)
    (grad_reverse(x2, coeff) * w).sum().backward()
    assert torch.allclose(x2.grad, -coeff * w)


def test_gradient_reversal_coeff_can_change_and_is_checked():
    layer = GradientReversal()
    layer.coeff = 3.0
    x = torch.ones(2, requires_grad=True)
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.full((2,), -3.0))
    with pytest.raises(ValueError, match="coeff"):
        GradientReversal(-1.0)
    with pytest.raises(ValueError, match="coeff"):
        grad_reverse(x, float("nan"))


def test_patch_discriminator_layout_and_shapes():
    d = PatchDiscriminator()
    convs = [m for m in d.net if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (256, 256, (3, 3)), (256, 128, (3, 3)), (128, 128, (3, 3)), (128, 1, (3, 3))]
    assert all(m.negative_slope == 0.2 for m in d.net if isinstance(m, nn.LeakyReLU))
    small = PatchDiscriminator(in_channels=16, widths=(8, 8))
    assert small(torch.randn(2, 16, 8, 6)).shape == (2, 1, 8, 6)
    assert small(torch.randn(3, 2, 16, 4, 4)).shape == (3, 2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"features: expected \[\.\.\., 16, H, W\]"):
        small(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="widths"):
        PatchDiscriminator(widths=())


def test_grl_into_patch_discriminator_reverses_feature_gradient():
    torch.manual_seed(0)
    d = PatchDiscriminator(in_channels=4, widths=(4,))
    f = torch.randn(1, 4, 3, 3, requires_grad=True)
    d(f).sum().backward()
    plain = f.grad.clone()
    f.grad = None
    d(GradientReversal(0.1)(f)).sum().backward()
    assert torch.allclose(f.grad, -0.1 * plain)


def _student():
    return nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.5))


def test_ema_exact_hand_computed_update():
    student = _student()
    ema = EMATeacher(student, alpha=0.75)
    with torch.no_grad():
        for p in ema.teacher.parameters():
            p.fill_(4.0)
        for p in student.parameters():
            p.fill_(8.0)
    student.train()
    student(torch.randn(5, 2))  # moves the student's BN statistics
    ema.update(student)
    for p in ema.teacher.parameters():
        assert torch.all(p == 5.0)  # 0.75·4 + 0.25·8
    ema.update(student)
    for p in ema.teacher.parameters():
        assert torch.all(p == 5.75)  # 0.75·5 + 0.25·8
    assert torch.equal(ema.teacher[1].running_mean, student[1].running_mean)
    assert int(ema.teacher[1].num_batches_tracked) == 1
    ema.update(student, alpha=0.0)  # a full copy
    assert all(torch.equal(p, q) for p, q in zip(ema.teacher.parameters(), student.parameters()))


def test_ema_default_decay_and_no_grad_eval_teacher():
    torch.manual_seed(0)
    student = _student().double()
    ema = EMATeacher(student)
    assert ema.alpha == 0.999
    old = [p.clone() for p in ema.teacher.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    ema.update(student)
    for t, o, s in zip(ema.teacher.parameters(), old, student.parameters()):
        assert torch.allclose(t, 0.999 * o + 0.001 * s, atol=1e-14)
        assert not t.requires_grad
    ema.train()
    assert not ema.teacher.training
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    out = ema(x)
    assert not out.requires_grad
    assert torch.equal(out, ema(x))  # eval mode: dropout off, running statistics


def test_ema_errors():
    ema = EMATeacher(_student())
    with pytest.raises(ValueError, match="alpha"):
        EMATeacher(_student(), alpha=1.5)
    with pytest.raises(ValueError, match="student"):
        ema.update(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="student"):
        ema.update(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Dropout(0.5)))

"""Every module runs on every available device with all its buffers moved, and agrees with the CPU result.
On a machine without CUDA only the CPU (``.to("cpu")`` round trip) case runs."""
import pytest
import torch

from posefast.models import (LIFTERS, AnchorDiscriminator, EMATeacher, PartKCSDiscriminator, PatchDiscriminator,
                             PoseAugmentor, PoseDiscriminator2D, PoseResNet, StyleTransfer, VGGEncoder,
                             build_lifter)
from posefast.skeleton import H36M16

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])



def _cases():
    g = torch.Generator().manual_seed(0)
    pose2d = torch.randn(4, 16, 2, generator=g)
    bones = torch.randn(4, 15, 3, generator=g)
    m = torch.tensor(H36M16.part_masks, dtype=torch.float32)
    masked = bones[:, None] * m[None, :, :, None]
    psi = masked @ masked.transpose(-1, -2)
    cases = [(f"lifter-{n}", lambda n=n: build_lifter(n, "h36m16", zero_output=False), (pose2d,)) for n in LIFTERS]
    cases += [
        ("kcs-full", lambda: PartKCSDiscriminator.from_skeleton(H36M16), (psi,)),
        ("kcs-compact", lambda: PartKCSDiscriminator.from_skeleton(H36M16, compact=True), (psi,)),
        ("d2d", lambda: PoseDiscriminator2D(16), (pose2d,)),
        ("anchor", lambda: AnchorDiscriminator(H36M16), (pose2d,)),
        ("patch", lambda: PatchDiscriminator(8, widths=(8,)), (torch.randn(2, 8, 4, 4, generator=g),)),
        ("pose2d", lambda: PoseResNet(4, depth="tiny", deconv_channels=8), (torch.randn(2, 3, 32, 32, generator=g),)),
        ("adain", lambda: StyleTransfer(VGGEncoder(width_multiplier=0.125)),
         (torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g))),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,build,inputs", CASES, ids=[c[0] for c in CASES])
def test_module_on_device_matches_cpu(device, name, build, inputs):
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():
        ref = model(*inputs)
        moved = model.to(device)
        out = moved(*(x.to(device) for x in inputs))
    ref = ref if isinstance(ref, tuple) else (ref,)
    out = out if isinstance(out, tuple) else (out,)
    for r, o in zip(ref, out):
        assert o.device.type == device
        assert torch.allclose(o.cpu(), r, atol=1e-4, rtol=1e-4), name


@pytest.mark.parametrize("device", DEVICES)
def test_augmentor_and_ema_on_device(device):
    torch.manual_seed(0)
    aug = PoseAugmentor(H36M16).to(device)
    out = aug(torch.randn(4, 16, 3, device=device))
    assert all(v.device.type == device for v in out.values())
    ema = EMATeacher(aug, alpha=0.5).to(device)
    with torch.no_grad():
        for p in aug.parameters():
            p.add_(2.0)
    ema.update(aug)
    t = next(ema.teacher.parameters())
    s = next(aug.parameters())
    assert t.device.type == device and torch.allclose(t, s - 1.0, atol=1e-6)

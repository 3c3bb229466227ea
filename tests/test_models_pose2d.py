"""SimpleBaseline 2D heatmap network: heatmap resolution, features, backbone sizes, weight files, errors."""
import pytest
import torch

from posefast.models import PoseResNet, ResNetBackbone



@pytest.mark.parametrize("size", [(64, 64), (64, 96), (96, 32)])
def test_tiny_heatmaps_at_quarter_resolution(size):
    torch.manual_seed(0)
    net = PoseResNet(num_keypoints=16, depth="tiny", deconv_channels=32)
    h, w = size
    out = net(torch.randn(2, 3, h, w))
    assert out.heatmaps.shape == (2, 16, h // 4, w // 4)
    assert out.features.shape == (2, 32, h // 4, w // 4)
    # heatmaps are the 1×1 head applied to the returned features
    assert torch.allclose(out.heatmaps, net.head(out.features), atol=1e-6)
    assert net.output_stride == 4


def test_leading_dims_and_single_image():
    torch.manual_seed(0)
    net = PoseResNet(num_keypoints=5, depth="tiny", deconv_channels=16).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        out = net(x)
        assert out.heatmaps.shape == (2, 3, 5, 8, 8) and out.features.shape == (2, 3, 16, 8, 8)
        one = net(x[0, :1])
        assert torch.allclose(one.heatmaps, out.heatmaps[0, :1], atol=1e-5)


@pytest.mark.parametrize("depth,count", [(18, 11_176_512), (50, 23_508_032), (101, 42_500_160)])
def test_backbone_sizes_match_torchvision_resnets_without_fc(depth, count):
    backbone = ResNetBackbone(depth)
    assert sum(p.numel() for p in backbone.parameters()) == count
    assert backbone.out_channels == (512 if depth == 18 else 2048)


def test_resnet18_shapes():
    net = PoseResNet(17, depth=18)
    out = net(torch.randn(2, 3, 64, 64))
    assert out.heatmaps.shape == (2, 17, 16, 16) and out.features.shape == (2, 256, 16, 16)


def test_initialisation_follows_simple_baseline():
    net = PoseResNet(16, depth="tiny", deconv_channels=64)
    assert torch.all(net.head.bias == 0)
    assert net.head.weight.std() < 0.002 and net.deconv[0].weight.std() < 0.002


def test_weight_files_round_trip(tmp_path):
    torch.manual_seed(0)
    src = PoseResNet(8, depth="tiny", deconv_channels=16).eval()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "net.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}, "epoch": 3}, path)
    dst = PoseResNet(8, depth="tiny", deconv_channels=16, weights=path).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(src(x).heatmaps, dst(x).heatmaps)
    # ImageNet-style backbone file: torchvision key layout with a classifier that is ignored
    bb = {k: v for k, v in src.backbone.state_dict().items()}
    bb["fc.weight"], bb["fc.bias"] = torch.zeros(1000, 128), torch.zeros(1000)
    torch.save(bb, tmp_path / "backbone.pth")
    fresh = PoseResNet(8, depth="tiny", deconv_channels=16, backbone_weights=tmp_path / "backbone.pth")
    for k, v in src.backbone.state_dict().items():
        assert torch.equal(fresh.backbone.state_dict()[k], v)


def test_weight_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        PoseResNet(8, depth="tiny", weights=tmp_path / "missing.pth")
    torch.save(PoseResNet(8, depth="tiny").state_dict(), tmp_path / "k8.pth")
    with pytest.raises(RuntimeError):  # shape mismatch: 8 vs 9 keypoints
        PoseResNet(9, depth="tiny", weights=tmp_path / "k8.pth")


def test_argument_errors():
    with pytest.raises(ValueError, match=r"depth: unknown ResNet depth 20"):
        PoseResNet(16, depth=20)
    net = PoseResNet(16, depth="tiny", deconv_channels=16)
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.randn(1, 3, 48, 64))
    with pytest.raises(ValueError, match=r"images: expected shape \[\.\.\., 3, H, W\]"):
        net(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="images"):
        net(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="num_keypoints"):
        PoseResNet(0, depth="tiny")

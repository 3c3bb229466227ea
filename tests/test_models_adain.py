"""AdaIN: statistics transfer, VGG encoder layout, seeded init, weight files, losses, errors."""
import pytest
import torch

from posefast.models import (Decoder, StyleTransfer, VGGEncoder, adain, adain_content_loss, adain_style_loss,
                             channel_mean_std)



def test_adain_output_has_style_statistics():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(3, 8, 12, 10, generator=g, dtype=torch.float64) * 2.0 + 1.0
    style = torch.randn(3, 8, 7, 9, generator=g, dtype=torch.float64) * 0.5 - 3.0
    out = adain(content, style, eps=0.0)
    assert out.shape == content.shape
    om, os_ = channel_mean_std(out, eps=0.0)
    sm, ss = channel_mean_std(style, eps=0.0)
    assert torch.allclose(om, sm, atol=1e-12)
    assert torch.allclose(os_, ss, rtol=1e-12)
    # the content's normalised pattern survives
    cm, cs = channel_mean_std(content, eps=0.0)
    assert torch.allclose((out - om) / os_, (content - cm) / cs, atol=1e-10)
    # with the default eps (1e-5 added to every variance) the match is approximate
    om, os_ = channel_mean_std(adain(content, style))
    sm, ss = channel_mean_std(style)
    assert torch.allclose(om, sm, atol=1e-10) and torch.allclose(os_, ss, rtol=1e-3)


def test_channel_mean_std_matches_definition_and_rejects_single_pixel():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    m, s = channel_mean_std(x, eps=0.0)
    assert torch.allclose(m.flatten(), x.mean(dim=(2, 3)).flatten())
    assert torch.allclose(s.flatten(), x.flatten(2).std(dim=2).flatten())
    with pytest.raises(ValueError, match="at least 2 spatial"):
        channel_mean_std(torch.randn(2, 3, 1, 1))
    with pytest.raises(ValueError, match="content/style"):
        adain(torch.randn(2, 3, 4, 4), torch.randn(2, 4, 4, 4))


def test_vgg_encoder_layout_and_size():
    enc = VGGEncoder()
    convs = [m for m in enc.layers if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (3, 3, (1, 1)), (3, 64, (3, 3)), (64, 64, (3, 3)), (64, 128, (3, 3)), (128, 128, (3, 3)),
        (128, 256, (3, 3)), (256, 256, (3, 3)), (256, 256, (3, 3)), (256, 256, (3, 3)), (256, 512, (3, 3))]
    assert len(enc.layers) == 31
    assert sum(p.numel() for p in enc.parameters()) == sum(c.weight.numel() + c.bias.numel() for c in convs)
    assert all(not p.requires_grad for p in enc.parameters())
    feats = enc.features(torch.rand(1, 3, 24, 20))
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 24, 20), (128, 12, 10), (256, 6, 5), (512, 3, 3)]
    x = torch.rand(2, 3, 24, 20)
    assert torch.equal(enc.features(x)[-1], enc(x))


def test_encoder_seed_is_fixed_and_local():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = VGGEncoder(width_multiplier=0.125)
    after = torch.rand(1)
    assert torch.equal(before, after)  # the global RNG was not consumed
    b = VGGEncoder(width_multiplier=0.125)
    c = VGGEncoder(width_multiplier=0.125, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_width_multiplier_keeps_topology():
    full, narrow = VGGEncoder(), VGGEncoder(width_multiplier=0.125)
    assert [type(m) for m in full.layers] == [type(m) for m in narrow.layers]
    assert narrow.out_channels == 64
    dec = Decoder(width_multiplier=0.125)
    assert [type(m) for m in dec.layers] == [type(m) for m in Decoder().layers]
    y = dec(narrow(torch.rand(2, 3, 32, 24)))
    assert y.shape == (2, 3, 32, 24)
    with pytest.raises(ValueError, match="width_multiplier"):
        VGGEncoder(width_multiplier=0.0)


def test_weight_files_in_the_authors_sequential_layout(tmp_path):
    src = VGGEncoder(width_multiplier=0.25, seed=5)
    state = {k[len("layers."):]: v.clone() for k, v in src.state_dict().items()}
    state["33.weight"] = torch.zeros(3)  # deeper VGG layers in the file are ignored
    torch.save(state, tmp_path / "vgg.pth")
    dst = VGGEncoder(tmp_path / "vgg.pth", width_multiplier=0.25, seed=9)
    assert all(torch.equal(p, q) for p, q in zip(src.parameters(), dst.parameters()))
    dec = Decoder(width_multiplier=0.25)
    torch.save({k[len("layers."):]: v for k, v in dec.state_dict().items()}, tmp_path / "dec.pth")
    dec2 = Decoder(tmp_path / "dec.pth", width_multiplier=0.25)
    assert all(torch.equal(p, q) for p, q in zip(dec.parameters(), dec2.parameters()))
    with pytest.raises(RuntimeError):  # a full-width file does not fit a narrow encoder
        VGGEncoder(tmp_path / "vgg.pth", width_multiplier=0.5)


def test_style_transfer_alpha_and_losses():
    torch.manual_seed(0)
    st = StyleTransfer(VGGEncoder(width_multiplier=0.125))
    content, style = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        assert torch.allclose(st(content, style, alpha=0.0), st.decoder(st.encoder(content)), atol=1e-6)
        mixed = st(content, style, alpha=torch.tensor([0.0, 1.0]))
        assert torch.allclose(mixed[0], st(content, style, alpha=0.0)[0], atol=1e-6)
        assert torch.allclose(mixed[1], st(content, style, alpha=1.0)[1], atol=1e-6)
    losses = st.training_losses(content, style)
    assert losses["stylised"].shape == content.shape
    (losses["content"] + 10 * losses["style"]).backward()
    assert all(p.grad is None for p in st.encoder.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in st.decoder.parameters())
    st.train()
    assert not st.encoder.training


def test_losses_vanish_on_matching_inputs():
    feats = [torch.randn(2, 4, 5, 5) for _ in range(4)]
    assert adain_style_loss(feats, [f.clone() for f in feats]) == 0
    assert adain_content_loss(feats[0], feats[0].clone()) == 0
    assert adain_style_loss(feats, [f * 2 for f in feats]) > 0


def test_style_transfer_errors():
    st = StyleTransfer(VGGEncoder(width_multiplier=0.125))
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="alpha"):
        st(x, x, alpha=1.5)
    with pytest.raises(ValueError, match="alpha"):
        st(x, x, alpha=torch.tensor([0.5]))
    with pytest.raises(ValueError, match="style"):
        st(x, x[:1])
    with pytest.raises(ValueError, match="content"):
        st(torch.rand(2, 1, 16, 16), x)
    with pytest.raises(ValueError, match="decoder"):
        StyleTransfer(VGGEncoder(width_multiplier=0.125), Decoder(width_multiplier=0.25))

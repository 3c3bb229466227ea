"""Write the golden arrays of tests/test_parity_daml.py by running the released multi-level code
(sunshinglight/DAML_PoseEstimation, built on UDAPE) on fixed inputs and weights. Run by hand, on the CPU:

    git clone https://github.com/sunshinglight/DAML_PoseEstimation /tmp/daml   # or any checkout of it
    python tools/parity/daml_release_golden.py --release /tmp/daml [--out tests/data/parity/daml_release.npz]

Only numbers are stored (inputs, small weights, outputs); none of the release's code enters this repository: the
release's modules are loaded from --release at run time. The three files used are ``lib/models/loss.py``
(``ConsLoss``, ``SimCCLoss``), ``lib/models/Style_net.py`` (``calc_mean_std``, ``adain``, ``vgg``, ``decoder``,
``Net``) and ``utils.py`` (``rectify``, ``OldWeightEMA``); ``FCDiscriminator_img`` and ``grad_reverse`` live in
``train_human.py``, whose imports need the whole training stack (torchvision, datasets), so just those definitions
are taken from its syntax tree and executed with torch in scope. What each golden entry holds is in the test.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "parity" / "daml_release.npz"


def recipe(shape, seed: int, scale: float) -> torch.Tensor:
    """The weights both sides rebuild instead of storing them (tests/test_parity_daml.py has the same two lines):
    N(0, scale²) from a CPU generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=g, dtype=torch.float32) * scale


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _definitions(path: Path, names: set[str]) -> dict:
    tree = ast.parse(path.read_text(), str(path))
    body = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name in names]
    missing = names - {n.name for n in body}
    if missing:
        raise SystemExit(f"--release: {path} lacks {sorted(missing)}")
    scope = {"torch": torch, "nn": nn, "F": F, "np": np}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), scope)  # noqa: S102 (the release)
    return scope


def _fill_convs(module: nn.Module, seed0: int) -> None:
    """Conv weights N(0, 2/fan_in), biases N(0, 0.01²), each from its own seed, in module order."""
    with torch.no_grad():
        for i, conv in enumerate(m for m in module.modules() if isinstance(m, nn.Conv2d)):
            fan_in = conv.weight[0].numel()
            conv.weight.copy_(recipe(conv.weight.shape, seed0 + 2 * i, (2.0 / fan_in) ** 0.5))
            conv.bias.copy_(recipe(conv.bias.shape, seed0 + 2 * i + 1, 0.01))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--release", required=True, help="checkout of sunshinglight/DAML_PoseEstimation")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--commit", help="the release's commit, when --release is not a git checkout")
    args = p.parse_args(argv)
    root = Path(args.release)
    for rel in ("lib/models/loss.py", "lib/models/Style_net.py", "utils.py", "train_human.py"):
        if not (root / rel).is_file():
            raise SystemExit(f"--release: {root} has no {rel}; expected a DAML_PoseEstimation checkout")
    loss = _module(root / "lib/models/loss.py", "daml_loss")
    style = _module(root / "lib/models/Style_net.py", "daml_style")
    utils = _module(root / "utils.py", "daml_utils")
    th = _definitions(root / "train_human.py", {"FCDiscriminator_img", "GradReverse", "grad_reverse"})
    torch.set_grad_enabled(True)
    g = torch.Generator().manual_seed(2024)
    out: dict[str, np.ndarray] = {}

    # 1. mean-teacher pseudo-labels from (warped-back) teacher heatmaps: rectify + confidence mask, and ConsLoss
    b, k, h, w, sigma, ratio = 3, 5, 16, 16, 2, 0.5
    tea = torch.rand(b, k, h, w, generator=g) * 0.3
    peaks = torch.randint(0, h, (b, k, 2), generator=g)
    for i in range(b):
        for j in range(k):  # a clear maximum per map, some at the border (the truncated Gaussian's clipping)
            y, x = int(peaks[i, j, 0]), int(peaks[i, j, 1])
            if (i + j) % 4 == 0:
                x = 0 if j % 2 else w - 1
            tea[i, j, y, x] = 0.35 + 0.6 * float(torch.rand(1, generator=g))
    rect = utils.rectify(tea.clone(), sigma=sigma)
    act = tea.amax(dim=(2, 3))
    thresh = torch.kthvalue(act.view(-1), int(ratio * act.numel()))[0].item()
    tea_mask = torch.ones(b, k) * act > thresh
    stu = torch.rand(b, k, h, w, generator=g) * 0.5
    cons = loss.ConsLoss()(stu, rect, tea_mask=tea_mask)
    out.update(tea=tea, rect=rect, tea_mask=tea_mask, stu=stu, cons=cons, sigma=np.float32(sigma),
               mask_ratio=np.float32(ratio))

    # 2. pose level: information maximisation (SimCCLoss) on student heatmaps, with its gradient
    x = (torch.randn(b, k, h, w, generator=g) * 2.0).requires_grad_(True)
    im = loss.SimCCLoss()(x)
    im.backward()
    out.update(im_input=x.detach(), im=im.detach(), im_grad=x.grad)

    # 3. feature level: FCDiscriminator_img behind grad_reverse, BCE source 0 / target 1, λ_b = 0.1 (narrow widths)
    c, nd1, nd2 = 8, 6, 4
    disc = th["FCDiscriminator_img"](num_classes=c, ndf1=nd1, ndf2=nd2)
    for i, conv in enumerate((disc.conv1, disc.conv2, disc.conv3, disc.classifier)):
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.3)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.1)
        out[f"d_w{i}"], out[f"d_b{i}"] = conv.weight.detach().clone(), conv.bias.detach().clone()
    fs = torch.randn(2, c, 6, 6, generator=g).requires_grad_(True)
    ft = (torch.randn(2, c, 6, 6, generator=g) + 0.5).requires_grad_(True)
    d_s, d_t = disc(th["grad_reverse"](fs)), disc(th["grad_reverse"](ft))
    l_s = F.binary_cross_entropy_with_logits(d_s, torch.zeros_like(d_s))
    l_t = F.binary_cross_entropy_with_logits(d_t, torch.ones_like(d_t))
    (0.1 * l_s + 0.1 * l_t).backward()
    out.update(fs=fs.detach(), ft=ft.detach(), d_loss_s=l_s.detach(), d_loss_t=l_t.detach(), fs_grad=fs.grad,
               ft_grad=ft.grad)
    for i, conv in enumerate((disc.conv1, disc.conv2, disc.conv3, disc.classifier)):
        out[f"d_w{i}_grad"], out[f"d_b{i}_grad"] = conv.weight.grad, conv.bias.grad

    # 4. AdaIN: the op on features, and the style network (VGG to relu4_1 + decoder, recipe weights) at α = 0.6
    cf, sf = torch.rand(2, 8, 5, 5, generator=g) * 3, torch.rand(2, 8, 7, 7, generator=g) * 2 + 1
    out.update(adain_content=cf, adain_style=sf, adain_out=style.adain(cf, sf))
    vgg = nn.Sequential(*list(style.vgg.children())[:31])
    _fill_convs(vgg, 1000)
    _fill_convs(style.decoder, 5000)
    net = style.Net(vgg, style.decoder)
    content, style_img = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    with torch.no_grad():
        loss_c, _, g_t = net(content, style_img, 0.6)
    out.update(st_content=content, st_style=style_img, st_out=g_t, st_loss_c=loss_c, st_alpha=np.float32(0.6))

    # 5. the mean teacher's EMA step (OldWeightEMA, α = 0.9) on a small network
    student, teacher = nn.Linear(4, 3), nn.Linear(4, 3)
    with torch.no_grad():
        for prm in (*student.parameters(), *teacher.parameters()):
            prm.copy_(torch.randn(prm.shape, generator=g))
    ema = utils.OldWeightEMA(teacher, student, alpha=0.9)  # copies the student into the teacher
    out.update(ema_start_w=teacher.weight.detach().clone(), ema_start_b=teacher.bias.detach().clone())
    with torch.no_grad():
        for prm in student.parameters():
            prm.add_(torch.randn(prm.shape, generator=g))
    ema.step()
    out.update(ema_student_w=student.weight.detach(), ema_student_b=student.bias.detach(),
               ema_teacher_w=teacher.weight.detach(), ema_teacher_b=teacher.bias.detach())

    commit = args.commit
    try:
        commit = commit or subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    arrays = {key: (v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for key, v in out.items()}
    arrays["release_commit"] = np.array(commit)
    arrays["torch_version"] = np.array(torch.__version__)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {len(arrays)} arrays to {args.out} (release {commit[:12]}, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

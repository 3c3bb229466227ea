"""Record one training iteration of PoseAug's released code as numbers, for ``tests/test_parity_poseaug.py``.

Run by hand, with a checkout of jfzhang95/PoseAug (tested at f469ce4) and the two packages that code imports
(``pip install torchgeometry==0.1.2 tensorboardX``; neither is a posefast dependency)::

    PYTHONPATH=. python tools/parity/poseaug_release_golden.py --release /path/to/PoseAug \\
        --out tests/data/parity/poseaug_release.npz

What it does (release file:line in brackets; nothing of the release is copied here, its modules are imported):

* builds the release's generator (models_poseaug/gan_generator.py:45, heads at :74 BA, :148 RT, :236 BL), its
  part-aware KCS 3D discriminator and 2D discriminator (models_poseaug/PosDiscriminator.py:31, :136) and its MLP
  lifter (models_baseline/mlp/linear_model.py:47), with the release's initialiser (``init_weights``: Kaiming-normal
  Linear weights) and narrower layers than the release's defaults so the file stays small (the widths are
  constructor arguments of those classes; nothing else changes). The lifter has dropout 0, so the iteration is
  deterministic;
* takes a fixed batch: 64 camera-frame source poses (posefast's ``synthetic:h36m`` training split, seed 0) and
  per-pose Human3.6M cameras with distortion, normalised as the release does (common/h36m_dataset.py:245-253);
* replaces ``torch.randn`` inside gan_generator.py by a queue of pre-drawn noise (BA, BL, RT-rotation,
  RT-translation: the order of the calls in :115, :280, :201, :215) and records it;
* runs ``train_gan`` (function_poseaug/model_gan_train.py:202) for ONE iteration with the run's defaults
  (function_poseaug/config.py) at epoch 3 of 50 (after the 2 warm-up epochs, so the feedback loss is on), its fake
  pools fresh (``Sample_from_Pool`` returns its input until 4096 samples are stored, utils/gan_utils.py:163), and the
  discriminators' real samples are the same batch (the release draws them from independently shuffled loaders
  of the same, bone-swapped, data: function_poseaug/dataloader_update.py:70-76);
* then the lifter passes of that epoch (run_poseaug.py:96-101): ``train_posenet`` over the fake buffer (one batch
  here), then over the real pairs (function_poseaug/model_pos_train.py:12);
* writes: inputs, noise, every model's initial state, the generator's BA/BL/RT outputs, the projections, every
  discriminator call's output, every logged loss scalar (the release's tensorboard tags), each criterion call,
  and after each optimiser step the parameters and their (clipped) gradients, plus the final states.

The only edits to the release's behaviour: ``torch.device("cuda")`` -> CPU in model_gan_train.py (:22, :50, :167,
:203), the visualisation call (:320) and tensorboard writer replaced by recorders, and the noise queue above.
The translation head's last layer is scaled by 0.2 and its depth bias raised, so every augmented joint stays in front
of the camera (the release's projection and posefast's differ only behind it; see the test's docstring).
"""
from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
import torch

from posefast.data.domains import load_split  # the input poses only

N_POSES = 64
WIDTH_G, WIDTH_KCS, MID_KCS, WIDTH_LIFTER = 32, 32, 16, 64
SEED = 0


class _Proxy(types.ModuleType):
    """A stand-in for ``torch`` inside one release module: overrides some names, forwards the rest."""

    def __init__(self, base, **overrides):
        super().__init__(base.__name__)
        self._base = base
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._base, name)


class _Writer:
    def __init__(self):
        self.scalars = {}

    def add_scalar(self, tag, value, step=None):
        self.scalars[tag] = float(value)


def _state(module, prefix, out):
    for k, v in module.state_dict().items():
        out[f"{prefix}.{k}"] = v.detach().cpu().numpy().copy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", required=True, help="path of a PoseAug checkout (jfzhang95/PoseAug)")
    ap.add_argument("--out", required=True, help="the .npz to write")
    args_cli = ap.parse_args(argv)
    release = Path(args_cli.release).resolve()
    if not (release / "models_poseaug" / "gan_generator.py").is_file():
        raise SystemExit(f"--release: {release} does not look like a PoseAug checkout (models_poseaug/ missing)")
    sys.path.insert(0, str(release))


    import models_poseaug.gan_generator as gg
    import function_poseaug.model_gan_train as mgt
    import function_poseaug.model_pos_train as mpt
    from models_poseaug.PosDiscriminator import Pos2dDiscriminator, Pos3dDiscriminator
    from models_baseline.mlp.linear_model import LinearModel, init_weights
    from common.camera import normalize_screen_coordinates, project_to_2d
    from common.h36m_dataset import h36m_cameras_intrinsic_params
    from utils.gan_utils import Sample_from_Pool
    from utils.utils import Summary

    old_argv = sys.argv
    sys.argv = ["poseaug"]
    from function_poseaug.config import get_parse_args
    args = get_parse_args()  # the release's defaults
    sys.argv = old_argv
    args.batch_size, args.num_workers = N_POSES, 0

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    out = {}

    # ---- the batch ------------------------------------------------------------------------------------------
    poses = load_split("synthetic:h36m", "train", N_POSES, SEED, 0, "h36m16").tensors()["joints_3d"]
    poses = poses.float().contiguous()  # the release's .view() needs contiguous poses
    cams = []
    for c in h36m_cameras_intrinsic_params:
        w, h = c["res_w"], c["res_h"]
        centre = normalize_screen_coordinates(np.asarray(c["center"], dtype=np.float32), w=w, h=h)
        focal = np.asarray(c["focal_length"], dtype=np.float32) / w * 2.0
        cams.append(np.concatenate([focal, centre, c["radial_distortion"], c["tangential_distortion"]]))
    camera = torch.tensor(np.stack([cams[i % 4] for i in range(N_POSES)]), dtype=torch.float32)
    out["input.joints_3d"], out["input.camera"] = poses.numpy(), camera.numpy()

    # ---- the release's networks ------------------------------------------------------------------------------
    model_g = gg.PoseGenerator(args, 16 * 3)
    model_g.BAprocess = gg.BAGenerator(input_size=48, linear_size=WIDTH_G)
    model_g.BLprocess = gg.BLGenerator(input_size=48, linear_size=WIDTH_G, blr_tanhlimit=args.blr_tanhlimit)
    model_g.RTprocess = gg.RTGenerator(input_size=48, linear_size=WIDTH_G)
    model_g.apply(init_weights)
    with torch.no_grad():  # root depth t_z = (out_z)^2 around 5 m: every joint stays in front of the camera
        model_g.RTprocess.w2_T.weight.mul_(0.2)
        model_g.RTprocess.w2_T.bias[2] += 2.3
    model_d3d = Pos3dDiscriminator(16, kcs_channel=WIDTH_KCS, channel_mid=MID_KCS)
    model_d3d.apply(init_weights)
    model_d2d = Pos2dDiscriminator(16)
    model_d2d.apply(init_weights)
    model_pos = LinearModel(32, 45, linear_size=WIDTH_LIFTER, num_stage=2, p_dropout=0.0)
    model_pos.apply(init_weights)
    models = {"G": model_g, "d3d": model_d3d, "d2d": model_d2d, "lifter": model_pos}
    for name, m in models.items():
        _state(m, f"init.{name}", out)

    # optimisers as function_poseaug/model_gan_preparation.py:37-39 and run_poseaug.py:45
    opt_g = torch.optim.Adam(model_g.parameters(), lr=args.lr_g)
    opt_d3d = torch.optim.Adam(model_d3d.parameters(), lr=args.lr_d)
    opt_d2d = torch.optim.Adam(model_d2d.parameters(), lr=args.lr_d)
    opt_p = torch.optim.Adam(model_pos.parameters(), lr=args.lr_p)
    step_counts = {}

    def snapshot(tag, model):
        def hook(opt, *_):
            k = step_counts[tag] = step_counts.get(tag, 0) + 1
            for pname, p in model.named_parameters():
                out[f"step.{tag}{k}.param.{pname}"] = p.detach().numpy().copy()
                out[f"step.{tag}{k}.grad.{pname}"] = p.grad.detach().numpy().copy()
        return hook

    opt_g.register_step_post_hook(snapshot("G", model_g))
    opt_d3d.register_step_post_hook(snapshot("d3d", model_d3d))
    opt_d2d.register_step_post_hook(snapshot("d2d", model_d2d))
    opt_p.register_step_post_hook(snapshot("lifter", model_pos))

    # ---- recorders ----------------------------------------------------------------------------------------------
    noise = torch.randn(4, N_POSES, 48, generator=torch.Generator().manual_seed(SEED + 1))
    for i, name in enumerate(("ba", "bl", "rt_rotation", "rt_translation")):
        out[f"noise.{name}"] = noise[i].numpy()
    queue = list(noise)

    def queued_randn(*shape, **kwargs):
        z = queue.pop(0)
        assert tuple(shape) == tuple(z.shape), (shape, z.shape)
        return z.clone()

    gg.torch = _Proxy(torch, randn=queued_randn)
    mgt.torch = _Proxy(torch, device=lambda *a, **k: torch.device("cpu"))
    mgt.plot_poseaug = lambda *a, **k: None

    calls = {"d3d": [], "d2d": [], "project": [], "criterion": []}
    model_d3d.register_forward_hook(lambda m, i, o: calls["d3d"].append(o.detach().numpy().copy()))
    model_d2d.register_forward_hook(lambda m, i, o: calls["d2d"].append(o.detach().numpy().copy()))
    g_out = {}
    model_g.register_forward_hook(lambda m, i, o: g_out.update(o))

    def recording_project(x, cam):
        uv = project_to_2d(x, cam)
        calls["project"].append(uv.detach().numpy().copy())
        return uv

    mgt.project_to_2d = recording_project

    class RecordingMSE(torch.nn.MSELoss):
        def forward(self, a, b):
            loss = super().forward(a, b)
            calls["criterion"].append(float(loss))
            return loss

    criterion = RecordingMSE(reduction="mean")

    # ---- one iteration ---------------------------------------------------------------------------------------
    inputs_2d = project_to_2d(poses, camera)
    out["input.joints_2d"] = inputs_2d.numpy()
    data_dict = {"train_gt2d3d_loader": [(poses, inputs_2d, None, camera)],
                 "target_2d_loader": [inputs_2d], "target_3d_loader": [poses]}
    summary = Summary(str(Path("/tmp") / "poseaug_parity_unused"))
    summary.epoch, summary.train_iter_num = 3, 0
    writer = _Writer()
    poseaug_dict = {"model_G": model_g, "model_d3d": model_d3d, "model_d2d": model_d2d, "optimizer_G": opt_g,
                    "optimizer_d3d": opt_d3d, "optimizer_d2d": opt_d2d}
    mgt.train_gan(args, poseaug_dict, data_dict, model_pos, criterion, Sample_from_Pool(), Sample_from_Pool(),
                  summary, writer)
    assert not queue, "the generator drew a different number of noise tensors than expected"
    for key in ("pose_ba", "ba_diff", "pose_bl", "blr", "pose_rt"):
        out[f"g.{key}"] = g_out[key].detach().numpy()
    out["g.r"], out["g.t"] = (v.detach().numpy() for v in g_out["rt"])
    for z in (out["g.pose_ba"], out["g.pose_rt"]):
        assert z[..., 2].min() > 0.5, "an augmented joint is close to or behind the camera; change the RT bias"
    out["g.inputs_2d"], out["g.outputs_2d_ba"], out["g.outputs_2d_rt"] = calls["project"]
    gan_criterion_calls = len(calls["criterion"])
    for name in ("d3d", "d2d"):  # G step: real, fake; D step: real, fake (pooled)
        for k, v in enumerate(calls[name]):
            out[f"{name}.call{k}"] = v
    valid = (torch.sum(torch.as_tensor(out["g.outputs_2d_rt"]) > 1, dim=(1, 2)) < 1).numpy()
    out["lifter.fake_valid"] = valid  # model_gan_train.py:310

    mpt.train_posenet(model_pos, data_dict["train_fake2d3d_loader"], opt_p, criterion, torch.device("cpu"))
    mpt.train_posenet(model_pos, [(poses, inputs_2d, None, None)], opt_p, criterion, torch.device("cpu"))
    out["lifter.losses"] = np.asarray(calls["criterion"][gan_criterion_calls:], dtype=np.float64)
    for tag, value in writer.scalars.items():
        out[f"scalar.{tag}"] = np.float64(value)
    for name, m in models.items():
        _state(m, f"final.{name}", out)
    out["meta.settings"] = np.array([f"epoch=3 epochs={args.epochs} warmup={args.warmup} df={args.df} "
                                     f"widths G={WIDTH_G} kcs={WIDTH_KCS}/{MID_KCS} lifter={WIDTH_LIFTER}"])
    Path(args_cli.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args_cli.out, **out)
    size = Path(args_cli.out).stat().st_size
    print(f"wrote {args_cli.out}: {len(out)} arrays, {size / 1e6:.2f} MB; steps {step_counts}; "
          f"{int(valid.sum())}/{N_POSES} fakes in frame")


if __name__ == "__main__":
    main()

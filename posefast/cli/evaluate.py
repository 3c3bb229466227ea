"""Evaluate a checkpoint: ``python -m posefast.evaluate --checkpoint PATH --data SPEC [--json FILE]``.

A lifting run's checkpoint (source-only, poseaug, poseda, gpa, lpa) on any spec with 3D labels: MPJPE, P-MPJPE
(similarity Procrustes, reflections excluded), PCK@150 mm and AUC over 0..150 mm (root-relative, the MPI-INF-3DHP
protocol), per-joint MPJPE (millimetres / percent), all from one pass of :func:`posefast.pose_errors`. On the
run's own --source/--target spec it scores the exact split the run scored, so the numbers equal its metrics.json.

A multilevel run's stage checkpoint (RUN/seed0/multilevel/checkpoint.pt, RUN/seed0/source-only/checkpoint.pt, ...) on 2D
keypoint data (coco:<annotations.json>, lsp:<dir>, or synthetic): PCK@0.05 over the 12 limb keypoints and per
keypoint, with the network the run evaluated (the EMA teacher of an adapted variant). An animal run's checkpoint on
animal data in its layout (coco:<json>, dlc:<DeepLabCut project or Lightning Pose folder>, tigdog:<dir>,
synanimal:<dir>, synthetic-animal:...): PCK@0.05 over all its keypoints, per keypoint and per keypoint group (eye,
chin, hoof, ... as UDAPE reports); --keypoint-map says which bodyparts of a dlc: file (or which tigdog18 keypoints
of a tigdog:/synanimal: one) are which keypoints. TigDog / SynAnimal are scored on the releases' valid list
(--split train: their train list, all: every frame) unless the spec names one (tigdog:<dir>?split=...).
"""
from __future__ import annotations

import argparse
import json
import sys

from posefast.cli.common import run_cli
from posefast.engine.device import DEVICE_CHOICES, resolve_device
from posefast.engine.inference import load_lifter, read_checkpoint
from posefast.errors import UsageError, for_argument
from posefast.evaluation.lifting import own_split, evaluate_lifter, load_eval_data
from posefast.methods.multilevel import evaluate_checkpoint, report_2d


def report_3d(metrics: dict, data: str, skeleton) -> str:
    lines = [f"{data} ({metrics['n']} poses): MPJPE {metrics['mpjpe']:.2f} mm  P-MPJPE {metrics['p_mpjpe']:.2f} mm  "
             f"PCK@150 {metrics['pck']:.2f} %  AUC {metrics['auc']:.2f} %",
             "per-joint MPJPE (mm): " + ", ".join(f"{n} {v:.1f}" for n, v in zip(skeleton.joint_names,
                                                                                metrics["per_joint"]))]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m posefast.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Errors in the input print one line (exit status 2); POSEFAST_DEBUG=1 shows the traceback.")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint.pt of a lifting run, or RUN/<variant>/checkpoint.pt of a multilevel run")
    parser.add_argument("--data", required=True,
                        help="lifting: a spec with 3D labels (synthetic:3dhp, an archive .npz, h36m:, 3dhp:, 3dpw:, "
                             "cmu:); multilevel: coco:<annotations.json>, lsp:<dir> or synthetic; an animal run: "
                             "coco:, dlc:, tigdog:<dir>[?animal=horse], synanimal:<dir>[?animal=...], "
                             "synthetic-animal:...")
    parser.add_argument("--split", choices=("train", "test", "all"), default=None,
                        help="default: the run's own split of its --source/--target, else the test split of a spec "
                             "that has one (synthetic, h36m) and all of any other file")
    parser.add_argument("--n", type=int, default=None,
                        help="poses of a synthetic spec (default: the run's n_test); a cap on real data (0 = all)")
    parser.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                        help="average with the mirrored input's prediction (default: as the run evaluated its target)")
    parser.add_argument("--keypoint-map", default=None,
                        help="dlc: (or tigdog:/synanimal:) data of an animal run: a named map (mirror-mouse-top, "
                             "mirror-mouse-bot) or 'bodypart=keypoint,...'; bodyparts it leaves out are ignored "
                             "(listed)")
    parser.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                        help="auto (default: CUDA when available and built), cpu or cuda")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    device, chosen = resolve_device(args.device)
    print(f"[posefast] device: {chosen}", file=sys.stderr)
    state = read_checkpoint(args.checkpoint, device)
    if "stage" in state:  # a multilevel (2D) run's stage
        if args.flip_test:
            raise UsageError("--flip-test: the 2D evaluation has no flip test")
        with for_argument("--data"):
            metrics = evaluate_checkpoint(state, args.data, args.split, args.n, device, args.keypoint_map)
        print(report_2d(metrics))
    else:
        if args.keypoint_map:
            raise UsageError("--keypoint-map: only for a multilevel animal run's checkpoint")
        lifter, skeleton, cfg = load_lifter(args.checkpoint, device, state=state)
        with for_argument("--data"):
            dataset, what = load_eval_data(args.data, cfg, args.split, args.n)
        if not dataset.has_3d:
            raise UsageError(f"--data {args.data}: has no 3D labels to evaluate against")
        own = own_split(args.data, args.split, cfg)
        flip = args.flip_test if args.flip_test is not None else bool(cfg.get("flip_test")) and (
            own is None or own[0] == "target")
        metrics = evaluate_lifter(lifter, dataset.tensors(device=device), skeleton, flip_test=flip)
        metrics.update({"data": args.data, "split": what, "flip_test": flip, "checkpoint": str(args.checkpoint)})
        print(report_3d(metrics, f"{args.data}, {what}", skeleton))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

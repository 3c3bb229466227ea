"""Lift your own 2D detections to 3D with a trained lifter:

    python -m posefast.lift --checkpoint RUN/checkpoint.pt --input FILE --out OUT.npz [--plot OUT.png]

FILE is a COCO-17 keypoint JSON (a detector's results list or an annotation file), a folder of OpenPose JSON files
(BODY_25 or COCO-18), an npz ``joints_2d [N, J, 2]`` (in the lifter's layout or one its ``skeleton``/``layout`` key
names), or anything ``python -m posefast.evaluate --data`` reads: a posefast pose archive in any layout posefast
reads, or a data spec (``synthetic:3dhp``, ``h36m:<dir>``, ``3dhp:<file>``, ``3dpw:<file>``, ``cmu:<dir>``), loaded
and converted to the lifter's skeleton as training does, with the same ``--split`` and ``--n`` as evaluate. The
formats, the conversion to the lifter's skeleton and the rule that fills missing joints are in
:mod:`posefast.data.detections`. The image size comes from ``--image-size W H``, or from the input where it holds
one (COCO ``images``, the npz's ``image_size``, an archive's or spec's per-sample sizes).

OUT.npz holds ``joints_3d [N, J, 3]`` (root-relative, metres, camera orientation: x right, y down, z forward),
``joints_2d [N, J, 2]`` (the converted and filled pixels the lifter saw), ``confidence [N, J]`` (carried over from
the detections), ``filled [N, J]`` (True where a joint was missing and placed by the rule), ``image_size [N, 2]``,
``ids [N]`` and ``scores [N]`` of the input entries, ``source_index [N]`` (each row's entry in the input),
``skeleton`` and ``joint_names``. Entries with no joint above ``--min-confidence`` are skipped and reported.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from posefast.cli.common import run_cli
from posefast.engine.device import DEVICE_CHOICES, resolve_device
from posefast.errors import UsageError, for_argument
from posefast.geometry import normalize_screen
from posefast.data.detections import detections_from_dataset, fill_missing, read_detections, to_skeleton
from posefast.data.domains import spec_kind
from posefast.engine.inference import lift
from posefast.engine.inference import load_lifter
from posefast.evaluation.lifting import load_eval_data
from posefast.evaluation.plots import plot_samples

__all__ = ["is_pose_data", "lift_detections", "main"]


def is_pose_data(text: str) -> bool:
    """True when ``--input`` is what ``evaluate --data`` reads: a data spec with a loader prefix, or an .npz pose
    archive (it holds the archive's ``skeleton`` and ``camera`` keys); False for detection files."""
    if spec_kind(text) != "archive":
        return True
    path = Path(text)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {"skeleton", "camera"} <= set(npz.files)
    except Exception:  # noqa: BLE001 - not a readable npz: read_detections says why
        return False


def read_input(args, skeleton, cfg):
    """``(Detections, what)`` of ``--input``: pose data loaded as evaluate loads ``--data`` (the run's own split of
    its own specs, converted to the lifter's skeleton by the loader), or a detection file."""
    with for_argument("--input"):
        if is_pose_data(args.input):
            dataset, what = load_eval_data(args.input, cfg, args.split, args.n)
            return detections_from_dataset(dataset), f"{what} of {args.input}"
        for flag, value in (("--split", args.split), ("--n", args.n)):
            if value is not None:
                raise UsageError(f"{flag}: only for a pose archive or data spec, not for a detection file")
        return read_detections(args.input, skeleton), args.input


def lift_detections(lifter, skeleton, detections, image_size=None, min_confidence: float = 0.1,
                    device="cpu") -> dict:
    """Convert, fill and lift :class:`~posefast.data.detections.Detections`; returns the arrays OUT.npz holds."""
    joints, conf = to_skeleton(detections, skeleton)
    size = detections.image_size if image_size is None else np.broadcast_to(
        np.asarray(image_size, dtype=np.float64), (len(joints), 2))
    if size is None:
        raise UsageError("--image-size: the input holds no image size; give the images' width and height (W H)")
    if not (np.isfinite(size).all() and (size > 0).all()):
        raise UsageError("--image-size: expected positive widths and heights")
    joints, filled, placed = fill_missing(joints, conf, skeleton, min_confidence)
    keep = np.flatnonzero(placed)
    if keep.size == 0:
        raise UsageError(f"--input: no entry has a joint with confidence >= --min-confidence {min_confidence}")
    pixels = torch.as_tensor(joints[keep], dtype=torch.float32, device=device)
    wh = torch.as_tensor(size[keep], dtype=torch.float32, device=device)
    with torch.no_grad():
        joints_3d = lift(lifter, pixels, None, wh).cpu().numpy()
    return {"joints_3d": joints_3d.astype(np.float32), "joints_2d": joints[keep].astype(np.float32),
            "confidence": conf[keep].astype(np.float32), "filled": filled[keep], "image_size": size[keep],
            "ids": detections.ids[keep], "scores": detections.scores[keep], "source_index": keep.astype(np.int64),
            "skeleton": np.array(skeleton.name), "joint_names": np.array(skeleton.joint_names)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m posefast.lift", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Errors in the input print one line (exit status 2); POSEFAST_DEBUG=1 shows "
                                       "the traceback.")
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt of a lifting run (posefast.train)")
    p.add_argument("--input", required=True, help="COCO keypoint .json, OpenPose folder, .npz joints_2d, a pose "
                                                  "archive .npz or a data spec (what evaluate --data reads)")
    p.add_argument("--split", choices=("train", "test", "all"), default=None,
                   help="for a pose archive or data spec, as evaluate's --split (default: the run's own split of "
                        "its --source/--target, else the test split of a spec that has one, all of any other file)")
    p.add_argument("--n", type=int, default=None,
                   help="for a pose archive or data spec, as evaluate's --n (poses of a synthetic spec; a cap on "
                        "real data, 0 = all)")
    p.add_argument("--out", required=True, help="the .npz to write")
    p.add_argument("--image-size", type=float, nargs=2, metavar=("W", "H"), help="image width and height in pixels")
    p.add_argument("--min-confidence", type=float, default=0.1,
                   help="joints below it are missing and filled by the documented rule (default 0.1)")
    p.add_argument("--plot", help="also draw a few lifted poses into this PNG (needs matplotlib)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                   help="auto (default: CUDA when available and built), cpu or cuda")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.out.endswith(".npz"):
        raise UsageError(f"--out: expected a path ending in .npz, got {args.out!r}")
    device, chosen = resolve_device(args.device)
    print(f"[posefast] device: {chosen}", file=sys.stderr)
    lifter, skeleton, cfg = load_lifter(args.checkpoint, device)
    detections, what = read_input(args, skeleton, cfg)
    out = lift_detections(lifter, skeleton, detections, args.image_size, args.min_confidence, device)
    np.savez_compressed(args.out, **out)
    n_in, n = len(detections.ids), len(out["ids"])
    filled = out["filled"]
    print(f"lifted {n} of {n_in} entries of {what} ({detections.layout} -> {skeleton.name}) to {args.out}; "
          f"{int(filled.sum())} joints in {int(filled.any(1).sum())} entries were missing and filled")
    if n < n_in:
        skipped = sorted(set(range(n_in)) - set(out["source_index"].tolist()))
        print(f"skipped {n_in - n} entries with no joint above --min-confidence {args.min_confidence}: "
              f"{', '.join(str(detections.ids[i]) for i in skipped[:10])}{' ...' if len(skipped) > 10 else ''}")
    if args.plot:
        size = out["image_size"]
        norm = normalize_screen(out["joints_2d"], size[..., 0], size[..., 1]).numpy().astype(np.float32)
        if plot_samples({"lifted": (out["joints_3d"], norm)}, skeleton, args.plot) is None:
            print("--plot: matplotlib is not installed (pip install 'posefast[viz]'); no plot written")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))

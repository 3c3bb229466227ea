"""Record the output of PoseDA's released ``gpa()`` on one-camera batches, for ``tests/test_parity_poseda_gpa.py``.

The authors released GPA only as a code block in their README (rese1f/PoseDA @ 7934411, README.md:14-59; the same
repository is also linked as wenhaochai/PoseDA). Run by hand with a checkout of it::

    PYTHONPATH=. python tools/parity/poseda_gpa_golden.py --release /path/to/PoseDA \\
        --out tests/data/parity/poseda_gpa_release.npz

The script reads that block out of the checkout's README and runs it as it is (nothing of it is copied here). The
inputs: 256 camera-frame source poses (posefast's ``synthetic:h36m`` training split) and 256 target poses
(``synthetic:3dhp``) projected by ONE camera each batch, for two MPI-INF-3DHP test cameras (TS1-4: 2048x2048,
TS5-6: 1920x1080; /work/shared/REFERENCES.md). As the released function expects, target 2D and intrinsics are in
normalised screen units; we normalise as VideoPose3D does (x and y both by the width; the release's docstring
mentions y by the height, which its code does not depend on). The release's own ``torch.randperm`` pairing is
seeded, and the permutation it drew is recorded.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch

from posefast.data.domains import load_split  # the input poses only

N_POSES = 256
SEED = 0
# MPI-INF-3DHP test cameras: (width, height, f, cx, cy)
CAMERAS = {"ts1": (2048, 2048, 1500.17, 1017.4, 1043.0), "ts5": (1920, 1080, 1683.98, 939.9, 560.1)}


def release_gpa(readme: Path):
    text = readme.read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def gpa(" in b]
    if len(blocks) != 1:
        raise SystemExit(f"--release: expected one python block defining gpa() in {readme}, found {len(blocks)}")
    namespace = {"torch": torch}
    exec(compile(blocks[0], str(readme), "exec"), namespace)
    return namespace["gpa"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--release", required=True, help="path of a PoseDA checkout (rese1f/PoseDA)")
    ap.add_argument("--out", required=True, help="the .npz to write")
    a = ap.parse_args(argv)
    gpa = release_gpa(Path(a.release) / "README.md")


    source = load_split("synthetic:h36m", "train", N_POSES, SEED, 0, "h36m16").tensors()["joints_3d"].float()
    target_3d = load_split("synthetic:3dhp", "train", N_POSES, SEED, 1, "h36m16").tensors()["joints_3d"].float()
    out = {"source_3d": source.numpy()}
    for name, (w, h, f, cx, cy) in CAMERAS.items():
        xy = target_3d[..., :2] / target_3d[..., 2:]
        pixels = xy * f + torch.tensor([cx, cy])
        norm = pixels / w * 2 - torch.tensor([1.0, h / w])
        camera_px = torch.tensor([f, f, cx, cy]).repeat(N_POSES, 1)
        camera = torch.tensor([f / w * 2, f / w * 2, cx / w * 2 - 1, cy / w * 2 - h / w]).repeat(N_POSES, 1)
        torch.manual_seed(SEED)
        aligned = gpa(source.clone(), norm.clone(), camera.clone())
        torch.manual_seed(SEED)
        index = torch.randperm(N_POSES)  # the release's pairing (README.md:29)
        out.update({f"{name}.target_2d": norm.numpy(), f"{name}.target_2d_px": pixels.numpy(),
                    f"{name}.camera": camera.numpy(), f"{name}.camera_px": camera_px.numpy(),
                    f"{name}.image_size": np.array([w, h]), f"{name}.index": index.numpy(),
                    f"{name}.aligned": aligned.numpy()})
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(a.out, **out)
    print(f"wrote {a.out}: {Path(a.out).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

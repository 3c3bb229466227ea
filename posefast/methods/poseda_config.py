"""The settings section ``poseda`` (``cfg.poseda``, ``--set poseda.key=value``, ``poseda:`` in YAML) of PoseDA and
its ablations (:mod:`posefast.methods.poseda`), registered with :func:`posefast.engine.config.section`; checked
when loaded."""
from __future__ import annotations

from dataclasses import dataclass

from posefast.engine.config import choice, section

__all__ = ["PoseDAConfig"]


@section("poseda")
@dataclass
class PoseDAConfig:
    """PoseDA (Chai et al., ICCV 2023): GPA + LPA with an anchor discriminator."""

    gpa: bool = True
    lpa: bool = True
    # "given": the target split's intrinsics; "estimate": from image size (see poseda)
    target_camera: str = choice("given", ("given", "estimate"))
    # GPA's placement (methods/poseda.py): "matched" (each source pose keeps its own root ray and depth, both mapped
    # onto the target's distributions estimated from its 2D), "matched-depth" (own depth mapped, the paired target
    # pose's root) or "pair" (the release: the paired target pose's root, at the depth giving its 2D scale)
    gpa_align: str = choice("matched", ("matched", "matched-depth", "pair"))
    # where "matched"/"matched-depth" take the target's root-depth and root-ray moments from: "target-2d" (the
    # method: estimated from the target's 2D) or, as DIAGNOSTICS that read the target's 3D labels of its training
    # split (never a default, not adaptation; they tell what 2D alone cannot identify): "target-3d" (the true
    # moments) and "target-3d-depth" (the true depth moments, every source pose kept on its own root ray)
    gpa_moments: str = choice("target-2d", ("target-2d", "target-3d", "target-3d-depth"))
    depth_min: float = 1.0  # GPA depth clamp (metres)
    depth_max: float = 20.0
    lpa_epochs: int = 2  # passes over the source to train the LPA generator and anchor discriminator
    lpa_batch_size: int = 256
    lpa_copies: int = 1  # augmented copies of the source generated for the lifter
    lr_generator: float = 1e-4
    lr_discriminator: float = 1e-4
    noise_dim: int = 48
    weight_adv: float = 1.0
    weight_reg: float = 3.0
    ba_range_center: float = 0.1  # band of the mean bone-angle change 1 - cos kept by the range loss
    ba_range_width: float = 0.1
    bl_limit: float = 0.1
    # what the anchor discriminator compares (methods/poseda.py lists the paper's readings): "both" (default:
    # target2d-local + source3d, "reality" from the source 3D and "quality" from the target 2D), "target2d-local"
    # (the target's 2D poses, scale-free local shape), "target2d" (the target's normalised 2D poses as the lifter
    # sees them), "source3d" (PoseAug's part-KCS discriminator with the source 3D poses as real)
    anchor: str = choice("both", ("target2d-local", "target2d", "source3d", "both"))
    weight_adv_3d: float = 1.0  # the source3d discriminator's weight in the generator loss ("source3d", "both")
    # "release": Kaiming output layers; "identity": see poseaug.generator_init
    generator_init: str = choice("identity", ("identity", "release"))
    # batch norm of the heads when generating the lifter's poses: "eval" or "train"
    generate_mode: str = choice("eval", ("eval", "train"))
    generator_init_scale: float = 0.05

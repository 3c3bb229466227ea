"""2D image domains for the multi-level 2D adaptation method (Chen et al., ICME 2024; UDAPE ECCV'22).

A fast vectorised renderer of human figures from h36m17 3D poses (module ``render``: ``rasterize``,
``render_figures``), a small 3D pose and person-crop camera source (``poses``), a labelled ``source``
(SURREAL-like) and an unlabelled ``target`` (LSP-like) synthetic domain (``domains``), and loaders for real LSP /
COCO-style data (``loaders``; as the specs ``lsp:<dir>`` / ``coco:<json>``: ``specs``), all returning an
``ImagePoseDataset`` of Body16 keypoints (``keypoints``).
"""
from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.domains import STYLES, make_domain
from posefast.data.image2d.keypoints import (BODY16_EDGES, BODY16_FLIP, BODY16_NAMES, H36M17_TO_BODY16, LSP14_NAMES, LSP14_TO_BODY16,
                        NUM_KEYPOINTS, PCK_EVAL_JOINTS, h36m17_to_body16)
from posefast.data.image2d.loaders import load_coco_keypoints, load_lsp
from posefast.data.image2d.poses import crop_cameras, place_in_camera, sample_poses
from posefast.data.image2d.render import (NUM_REGIONS, REGION_NAMES, PartRaster, compose, flat_albedo, rasterize, render_figures,
                     shading)
from posefast.data.image2d.specs import IMAGE_SPEC_KINDS, describe_keypoints, image_spec_kind, load_image_spec

__all__ = [
    "ImagePoseDataset", "STYLES", "make_domain", "BODY16_EDGES", "BODY16_FLIP", "BODY16_NAMES", "H36M17_TO_BODY16",
    "LSP14_NAMES", "LSP14_TO_BODY16", "NUM_KEYPOINTS", "PCK_EVAL_JOINTS", "h36m17_to_body16", "load_coco_keypoints",
    "load_lsp", "crop_cameras", "place_in_camera", "sample_poses", "NUM_REGIONS", "REGION_NAMES", "PartRaster",
    "compose", "flat_albedo", "rasterize", "render_figures", "shading", "IMAGE_SPEC_KINDS", "describe_keypoints",
    "image_spec_kind", "load_image_spec",
]

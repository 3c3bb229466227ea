"""Multi-level alignment for domain-adaptive 2D pose estimation (Chen et al., ICME 2024) and its ablations, as
``python -m posefast.train multilevel|adain`` runs it. The modules, in the order a run uses them:

=====================  ========================================================================================
``job``                the job: settings, per seed a shared pretraining then every variant (``main_multilevel``),
                       the summary over seeds
``flags``              how the generic ``posefast.train`` settings map onto ``multilevel.*`` (or are refused)
``image_domains``      the rendered source, the unlabelled target and its labelled test split
``adain``              the AdaIN style transfer of the image level (trained here or loaded)
``stage``              one stage (pretraining or a variant) as a task of the shared epoch loop
``steps``              one training step: supervised source, mean teacher + the variant's levels
``warp``, ``losses``   the mean teacher's random views and the losses of each level
``checkpoint_eval``    ``python -m posefast.evaluate`` on a stage checkpoint
``plots``              ``predictions.png``
=====================  ========================================================================================

Evaluation (PCK@0.05) lives in :mod:`posefast.evaluation.heatmap2d`, the summary table in
:mod:`posefast.evaluation.tables`, the epoch loop in :mod:`posefast.engine.loop`.
"""
from __future__ import annotations

from posefast.methods.multilevel.checkpoint_eval import evaluate_checkpoint, load_pose_net, report_2d
from posefast.methods.multilevel.flags import apply_generic_settings
from posefast.methods.multilevel.job import main_multilevel, resolve_schedule
from posefast.methods.multilevel.stage import VARIANTS, Stage, build_pose_net, run_stage, variant_levels
from posefast.methods.multilevel.steps import LEVELS

__all__ = ["main_multilevel", "resolve_schedule", "apply_generic_settings", "evaluate_checkpoint", "load_pose_net",
           "report_2d", "VARIANTS", "LEVELS", "variant_levels", "Stage", "build_pose_net", "run_stage"]

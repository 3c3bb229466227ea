"""The settings of ``python -m posefast.train``: :class:`~posefast.engine.config.TrainConfig` with every section
registered (importing this module imports their owners: the methods' sections, the 2D job's and the comparison's).
YAML files under ``configs/`` override the defaults, the command line overrides both.

The defaults are small CPU settings (minutes on 2 cores); ``configs/*_paper.yaml`` reproduce the papers' schedules.
"""
from __future__ import annotations

from posefast.cli.compare import CompareConfig
from posefast.engine.config import TrainConfig, apply_overrides, dump_yaml, load_yaml, parse_setting, sections
from posefast.methods.multilevel.config import MultilevelConfig
from posefast.methods.poseaug_config import PoseAugConfig
from posefast.methods.poseda_config import PoseDAConfig

__all__ = ["TrainConfig", "PoseAugConfig", "PoseDAConfig", "MultilevelConfig", "CompareConfig", "apply_overrides",
           "dump_yaml", "load_yaml", "parse_setting", "sections"]

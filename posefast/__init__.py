"""posefast: domain-adaptive human pose estimation with fused C++/CUDA kernels.

Layers, each importing only those before it (docs/ARCHITECTURE.md; checked by tests/test_layering.py):
core (``skeleton``, ``errors``, ``seeds``, ``_ext``) → ``geometry`` → ``reference`` (pure-torch twins) →
``ops`` (kernels) → ``data``, ``models`` → ``evaluation`` → ``engine`` → ``methods`` → ``cli``.
"""
__version__ = "0.1.0"

from posefast._ext import build_info
from posefast.ops import *  # noqa: F401,F403  (the public ops)
from posefast.ops import __all__ as _ops_all
from posefast.skeleton import H36M16, H36M17, Skeleton, get_skeleton

__all__ = ["build_info", "Skeleton", "H36M16", "H36M17", "get_skeleton", *_ops_all]

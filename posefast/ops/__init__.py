"""Public ops on the compiled kernels (CPU/CUDA), each with a pure-torch twin in :mod:`posefast.reference`."""
from posefast.ops._switch import kernels_enabled, use_kernels
from posefast.ops.skeleton import DEFAULT_EPS, bone_vectors, forward_kinematics, kcs, part_kcs

__all__ = ["use_kernels", "kernels_enabled", "bone_vectors", "forward_kinematics", "kcs", "part_kcs", "DEFAULT_EPS"]

"""Pure-torch twins of every posefast op: the test oracle and the ``use_kernels(False)`` fallback."""
from posefast.reference.skeleton import bone_vectors, forward_kinematics, kcs, part_kcs

__all__ = ["bone_vectors", "forward_kinematics", "kcs", "part_kcs"]

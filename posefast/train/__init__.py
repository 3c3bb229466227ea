"""Training: ``python -m posefast.train`` (see :mod:`posefast.train.cli`), configs, the loop, checkpoints."""

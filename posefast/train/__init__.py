"""``python -m posefast.train``: only the command's entry point lives here (``__main__``); the command is
:mod:`posefast.cli.train`, the training engine :mod:`posefast.engine`."""

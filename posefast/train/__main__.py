import sys

from posefast._cli import run_cli
from posefast.train.cli import main

sys.exit(run_cli(main))

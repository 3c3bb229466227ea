import sys

from posefast.train.cli import main

sys.exit(main())

"""Entry point for ``python -m utils``."""

import sys

from utils.cli import main

sys.exit(main())

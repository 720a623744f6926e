"""``python -m repgym.cli``."""

import sys

from repgym.cli import main

sys.exit(main())

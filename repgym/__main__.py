"""``python -m repgym`` is the ``repgym`` command."""

import sys

from repgym.cli import main

sys.exit(main())

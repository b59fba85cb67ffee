"""``python -m tdca``: the same as the ``tdca`` command."""

import sys

from tdca.command import run

sys.exit(run())

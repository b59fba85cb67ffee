"""``python -m tdca``: the same as the ``tdca`` command."""

import sys

from tdca.cli import main

sys.exit(main())

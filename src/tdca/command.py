"""The ``tdca`` command's entry point (and ``python -m tdca``'s): Ctrl-C from its first
moment on.

Importing ``tdca.cli`` imports JAX, about a second. A Ctrl-C in that second used to end
in a KeyboardInterrupt traceback from deep inside JAX's imports, or, earlier still, to be
lost in them, and the command then ran in full. Here a Ctrl-C during the imports is noted
and the command stops once they are done, saying so; from then on ``cli.main`` handles it
(a run stops at its next checkpoint and says how to resume).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable


def _load_main() -> Callable[[], int]:
    from tdca.cli import main

    return main


def run(load: Callable[[], Callable[[], int]] = _load_main) -> int:
    """Import the command (``load``), then run it, unless interrupted while importing."""
    interrupted: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # An ignored SIGINT (a background job of a shell without job control) stays ignored.
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        main = load()
    finally:
        if previous is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        print("tdca: interrupted while starting; nothing ran", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())

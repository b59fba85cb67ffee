"""Figures, drawn with matplotlib's non-interactive Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def save(fig: Figure, path: Path) -> None:
    """Lay the figure out, write it at the one resolution all figures use, and free it
    (a long run draws many)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

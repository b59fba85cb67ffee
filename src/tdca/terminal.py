"""What a person watching a run sees: consoles for tables, and an evolution's progress.

On a terminal (or in a notebook) rich draws its live bar with ETA. Where the output is a
file or a pipe (a batch job's log, ``nohup``, ``| tee``) rich has no width to follow and
draws nothing live: it printed an evolution's bar once, at the very end, cut to 80
columns ("30… 0:… ETA 0:0…"), so an hours-long GPU run under Slurm showed no sign of
life in its log. There we print a plain, timestamped line instead, at the first
generation, every ``LINE_EVERY_S`` seconds and at the last one of the call.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

LINE_EVERY_S = 30.0  # seconds between two progress lines in a log file
LOG_WIDTH = 120  # columns for tables printed to a file or a pipe

Advance = Callable[[str], None]  # one more generation done; its argument: a status text


def _live(console: Console) -> bool:
    """Whether rich can redraw in place (a terminal or a notebook)."""
    return console.is_interactive or console.is_jupyter


def output_console() -> Console:
    """A console for tables and messages. Rich's own on a terminal; for a file or a pipe,
    ``LOG_WIDTH`` columns (or ``COLUMNS``, which rich reads itself) instead of rich's 80,
    at which the demo's tables wrapped their cells mid-word in a log."""
    console = Console()
    if not _live(console) and not os.environ.get("COLUMNS"):
        console = Console(width=LOG_WIDTH)
    return console


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=int(seconds)))


class _Lines:
    """Progress as plain lines (for output that is not a terminal)."""

    def __init__(self, console: Console, label: str, total: int, completed: int) -> None:
        self.console, self.label, self.total = console, label, total
        self.start_at = completed
        self.done = completed
        self.status = ""
        self.t_start = time.perf_counter()
        self.t_first: float | None = None  # when this call's first generation ended
        self.printed_at: float | None = None
        self.printed_done = completed

    def advance(self, status: str) -> None:
        now = time.perf_counter()
        self.done += 1
        self.status = status
        if self.t_first is None:
            self.t_first = now
        if self.printed_at is None or now - self.printed_at >= LINE_EVERY_S:
            self.print(now)

    def print(self, now: float) -> None:
        # The first generation compiles, so the ETA counts from the end of it.
        timed = self.done - self.start_at - 1
        eta = "?"
        if timed > 0 and self.t_first is not None:
            eta = _clock((self.total - self.done) * (now - self.t_first) / timed)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.console.print(
            f"{stamp} {self.label}: generation {self.done}/{self.total} "
            f"({100 * self.done / max(self.total, 1):.0f}%), {_clock(now - self.t_start)} "
            f"elapsed, ETA {eta}, {self.status}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        self.printed_at, self.printed_done = now, self.done

    def close(self) -> None:
        if self.printed_done != self.done:  # the last generation of the call
            self.print(time.perf_counter())


@contextlib.contextmanager
def evolution_progress(
    label: str,
    total: int,
    completed: int,
    *,
    enabled: bool = True,
    console: Console | None = None,
) -> Iterator[Advance]:
    """Yield ``advance(status)``, to be called once per generation; ``completed`` is where
    a resumed run starts. Disabled: nothing is shown (the run's files still log it all)."""
    if not enabled:
        yield lambda status: None
        return
    console = console or Console()
    if _live(console):
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            # The status gives way on a narrow terminal, not the counts and times.
            TextColumn("{task.fields[status]}", table_column=Column(ratio=1, no_wrap=False)),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            job = bar.add_task(label, total=total, completed=completed, status="")
            yield lambda status: bar.update(job, advance=1, status=status)
        return
    lines = _Lines(console, label, total, completed)
    try:
        yield lines.advance
    finally:
        lines.close()

"""Progress and tables where the output is a file or a pipe (a batch job's log)."""

import io

import pytest
from rich.console import Console

from tdca import terminal
from tdca.cli import main


def _log_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, force_jupyter=False), buffer


def test_a_log_gets_plain_lines_with_counts_eta_and_status(monkeypatch):
    console, buffer = _log_console()
    monkeypatch.setattr(terminal, "LINE_EVERY_S", 0.0)  # a line every generation
    with terminal.evolution_progress("evolving X", 8, 5, console=console) as advance:
        for g in range(3):  # a run resumed at generation 5 of 8
            advance(f"best {g}")
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 3
    assert "evolving X: generation 6/8 (75%)" in lines[0] and "ETA ?, best 0" in lines[0]
    assert "generation 8/8 (100%)" in lines[2] and "ETA 0:00:00, best 2" in lines[2]
    assert "━" not in buffer.getvalue()  # no bar drawn into the log


def test_lines_are_spaced_in_time_and_the_last_generation_is_always_shown(monkeypatch):
    console, buffer = _log_console()
    monkeypatch.setattr(terminal, "LINE_EVERY_S", 3600.0)
    with (
        pytest.raises(KeyboardInterrupt),
        terminal.evolution_progress("evolving", 1000, 0, console=console) as advance,
    ):
        for g in range(40):
            advance(f"g {g}")
        raise KeyboardInterrupt  # stopped mid-run: where it stopped is still printed
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "generation 1/1000" in lines[0] and "generation 40/1000" in lines[1]
    assert lines[1].endswith("g 39") and "ETA 0:00:" in lines[1]


def test_disabled_progress_prints_nothing():
    console, buffer = _log_console()
    with terminal.evolution_progress("evolving", 3, 0, enabled=False, console=console) as adv:
        adv("x")
    assert buffer.getvalue() == ""


def test_tables_for_a_pipe_are_wide_unless_columns_says_otherwise(
    monkeypatch,
    capsys,
    piped_output,  # capsys: stdout is not a terminal, even under -s
):
    assert terminal.output_console().width == terminal.LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "97")
    assert terminal.output_console().width == 97


def test_an_evolution_logs_its_progress_when_output_is_not_a_terminal(
    tmp_path, capsys, piped_output
):
    out = str(tmp_path / "g")
    argv = ["gaussian", "--out", out, "--generations", "3", "--population", "4"]
    assert main([*argv, "--steps", "5"]) == 0
    printed = capsys.readouterr().out
    assert "evolving TDCA (gaussian): generation 1/3" in printed
    assert "generation 3/3 (100%)" in printed and "diverged 0" in printed
    assert main(["gaussian", "--resume", out, "--generations", "5"]) == 0
    printed = capsys.readouterr().out
    assert "generation 4/5" in printed and "generation 5/5 (100%)" in printed
    assert "generation 3/" not in printed  # a resumed run counts on from its checkpoint

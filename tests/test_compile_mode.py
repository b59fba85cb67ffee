"""The suite's two compile modes (tests/conftest.py): each test, and each subprocess it
starts, compiles in the mode its marker asks for, whatever ran before it on its worker."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import pytest

FLAG = "jax_disable_most_optimizations"
CHILD = f"import jax; print(jax.config._read({FLAG!r}))"


def _mode() -> tuple[bool, str, str]:
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    return jax.config._read(FLAG), os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"], child.stdout


def test_behaviour_tests_compile_with_optimisations_mostly_off():
    assert _mode() == (True, "1", "True\n")


@pytest.mark.full_optimisation
def test_marked_tests_and_their_subprocesses_compile_as_users_do():
    assert _mode() == (False, "0", "False\n")


def test_the_mode_is_back_after_a_marked_test():
    assert _mode() == (True, "1", "True\n")

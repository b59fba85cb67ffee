"""The suite's two compile modes (tests/conftest.py): each test, and each subprocess it
starts, compiles in the mode its marker asks for, whatever ran before it on its worker;
behaviour tests' subprocesses also get the quicker CPU code generator, marked tests' do not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

FLAG = "jax_disable_most_optimizations"
CHILD = f"import jax; print(jax.config._read({FLAG!r})); print(jax.devices()[0].platform)"
QUICK = os.environ["TDCA_TESTS_QUICK_CODEGEN"]


def _mode() -> tuple[bool, str, str, bool]:
    """(this process's mode, the variable children inherit, what a child reads, whether a
    child is given the quicker code generator)."""
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr  # XLA aborts on a flag it does not know
    mode = child.stdout.splitlines()[0]
    quick = QUICK in os.environ["XLA_FLAGS"].split()  # never "" (split yields no "")
    return jax.config._read(FLAG), os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"], mode, quick


def test_behaviour_tests_compile_with_optimisations_mostly_off():
    assert _mode() == (True, "1", "True", QUICK != "")


def test_the_quicker_code_generator_is_used_where_this_jax_knows_it():
    """The JAX the suite tests knows the flag (with 0.10.2 it saved a quarter of the suite's
    CPU time); a JAX that does not is run without it, not aborted."""
    flags = os.environ["XLA_FLAGS"].split()
    assert QUICK in ("", "--xla_cpu_use_fusion_emitters=false")
    assert (QUICK in flags) == (QUICK != "")
    users_own = any("xla_cpu_use_fusion_emitters" in f for f in flags if f != QUICK)
    assert not (users_own and QUICK)  # an XLA_FLAGS that chose a generator is left alone
    if jax.__version__ == "0.10.2" and not users_own:
        assert QUICK != ""


@pytest.mark.full_optimisation
def test_marked_tests_and_their_subprocesses_compile_as_users_do():
    assert _mode() == (False, "0", "False", False)


def test_the_mode_is_back_after_a_marked_test():
    assert _mode() == (True, "1", "True", QUICK != "")


def test_a_module_fixture_is_made_in_the_mode_of_the_test_that_first_asks_for_it(pytester):
    """In a session of its own, so the order is fixed: a marked test, then a behaviour test
    asking for a module-scoped fixture. Switched in a fixture of the test, the mode came
    too late, after the shared one was made in the marked test's mode (a test comparing
    that fixture's parameters bit for bit with its own failed in that order)."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        test_order=f"""
import jax
import pytest

@pytest.fixture(scope="module")
def made_in():
    return jax.config._read({FLAG!r})

@pytest.mark.full_optimisation
def test_first_a_marked_test():
    assert not jax.config._read({FLAG!r})

def test_then_a_behaviour_test(made_in):
    assert made_in and jax.config._read({FLAG!r})
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2)

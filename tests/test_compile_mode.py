"""The suite's two compile modes (tests/conftest.py): each test, and each subprocess it
starts, compiles in the mode its marker asks for, whatever ran before it on its worker;
behaviour tests' subprocesses also get the quicker CPU code generator, marked tests' do not."""

from __future__ import annotations

import os
import subprocess
import sys

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

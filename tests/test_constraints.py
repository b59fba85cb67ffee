"""constraints.txt (the exact versions behind the committed CPU results) stays installable
with tdca: it pins every dependency pyproject.toml names, at a version within its range."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_constraints_pin_every_dependency_within_pyproject_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    pins = _pins()
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (req, pins[name])


def test_constraints_jax_is_the_one_the_committed_cpu_results_record():
    """The file's claim: a committed CPU run's config.json names the pinned JAX."""
    jax = _pins()["jax"]
    versions = [
        json.loads(c.read_text()).get("code_version", {})
        for c in sorted((ROOT / "results").rglob("config.json"))
    ]
    cpu = [v for v in versions if v.get("backend") == "cpu"]
    assert cpu, "no committed CPU run records its backend"
    recorded = {v["jax"] for v in cpu}
    assert recorded == {jax}, (
        f"committed CPU runs record JAX {sorted(recorded)}, constraints.txt pins {jax}: "
        "freeze the environment that made the new runs, and say in the header which runs "
        "used which versions"
    )
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"(their JAX, {jax}, is the one every committed CPU run records" in readme

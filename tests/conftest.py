"""Shared fixtures: tests run on CPU in float32, deterministic."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

"""Experiments: one function per paper experiment, each writing a run directory."""

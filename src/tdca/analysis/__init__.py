"""Analyses of trained bottom-up networks (trajectories, loss landscapes)."""

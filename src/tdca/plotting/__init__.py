"""Figures, drawn with matplotlib's non-interactive Agg backend."""

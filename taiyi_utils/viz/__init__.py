"""Figures and widgets: plotly figures built from plain tables, so they also work outside Jupyter."""

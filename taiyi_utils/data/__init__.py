"""Data side of the workbench: readers, catalog, instructions, quality checks and stage mixtures."""

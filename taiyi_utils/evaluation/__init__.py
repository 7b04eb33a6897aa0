"""Evaluation side: the paper's test suites, generation, parsing and metrics."""

"""Taiyi Workbench: every step of the Taiyi recipe as a plain, testable function."""
__version__ = "0.1.0"

"""Hotline 12345: the call-center system's core package."""

# the one place of the version: pyproject.toml reads it (tool.setuptools.dynamic), the wheel's
# metadata carries it, `hotline --version` prints it; every release is in CHANGELOG.md
__version__ = "0.2.0"

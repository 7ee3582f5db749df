"""Package discovery for the one distribution `tsuc` (the metadata is in pyproject.toml).

The repository root is the package `tsuc` (`package-dir = {"tsuc" = "."}`), so every folder
with an `__init__.py` below it is a subpackage `tsuc.<folder>`; tests, examples and
benchmarks are not installed.
"""

from setuptools import find_packages, setup

NOT_INSTALLED = ["tests", "tests.*", "examples", "examples.*", "benchmarks", "benchmarks.*", "build", "build.*"]

setup(packages=["tsuc"] + [f"tsuc.{name}" for name in find_packages(".", exclude=NOT_INSTALLED)])

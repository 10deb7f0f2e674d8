"""Only what pyproject.toml cannot say: the package list, computed.

The message templates (templates/) and the shipped policy (config/) stay at the top of
the repository and travel inside the package as ``notifier.templates`` and
``notifier.config`` (``[tool.setuptools.package-dir]`` in pyproject.toml), so a wheel, a
container image and ``pip install -e .`` all read them with importlib.resources. A
pyproject ``packages.find`` cannot list packages that live outside ``notifier/``.
"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["notifier*"]), "notifier.templates",
                "notifier.config"])  # fmt: skip

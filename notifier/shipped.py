"""The files the package carries: the message templates and the shipped policy.

They live at the top of the repository (templates/, config/) and are installed inside the
package as ``notifier.templates`` and ``notifier.config`` (setup.py, pyproject.toml), so an
editable checkout, a wheel and a container image find them the same way, through
importlib.resources, whatever the working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _directory(package: str) -> Path:
    root = resources.files(package)
    # Jinja's loader and the error messages want a real directory; pip always unpacks a
    # wheel, so only a zip import could end here.
    if not isinstance(root, Path):
        raise RuntimeError(f"{package} is inside an archive: install notifier with pip")
    return root


TEMPLATES_DIR = _directory("notifier.templates")
POLICY_FILE = _directory("notifier.config") / "notifier.toml"
ENV_EXAMPLE = _directory("notifier.config") / ".env.example"

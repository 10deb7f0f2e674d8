"""Helpers shared by the tests: the `notifier` command run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(
    *args: str, db: str | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`notifier [--db DB] ARGS...` in a fresh process, from the repository root, with no
    NOTIFIER_* settings leaking in from the environment."""
    cmd = [sys.executable, "-m", "notifier"]
    if db:
        cmd += ["--db", db]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**clean, **(env or {})},
    )  # fmt: skip

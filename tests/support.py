"""Helpers shared by the tests: the `notifier` command run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from notifier.domain.calendar import WorkCalendar
from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.sweeps.context import SweepContext

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


def sweep_context(policy: Policy) -> SweepContext:
    """What every sweep needs, from the shipped policy, the real calendar and templates."""
    return SweepContext(policy=policy, calendar=WorkCalendar(policy.calendar), renderer=Renderer())


def web_login(client: TestClient, name: str, password: str, next_url: str = "/") -> str:
    """Log ``client`` in through the real login form; the CSRF token its pages then carry."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"csrf": token.group(1), "name": name, "password": password, "next": next_url}
    done = client.post("/login", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == next_url
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(next_url).text)
    assert meta is not None
    return meta.group(1)

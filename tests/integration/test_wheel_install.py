"""The package deploys anywhere: a wheel built from this tree, installed into a fresh
virtualenv, runs from an empty folder with the templates and the policy it carries.

Offline and quick: the wheel is built with the project's own setuptools (no build
isolation, no index) from a copy of the tree, and the new virtualenv borrows the
third-party packages of the project's virtualenv through a ``.pth`` line; the source tree
is on no path of it, so the notifier that runs is the wheel's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.support import ROOT

AT = "2026-03-02T08:00:00+08:00"
SOURCES = ("pyproject.toml", "setup.py", "README.md", "notifier", "templates", "config")
# Put into the copy's templates only, so a draft that carries it was rendered from the
# templates inside the wheel, not from the repository's.
MARKER = "[built-into-the-wheel]"

pytestmark = pytest.mark.slow


def _call(*cmd: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, f"{cmd}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with notifier installed from a wheel; its bin directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFIER_", "PYTHON", "PIP_"))}  # fmt: skip
    source = tmp / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db*")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    for locale in ("en", "zh-CN"):
        layout = source / "templates" / "sms" / locale / "_layout.txt.j2"
        layout.write_text(MARKER + "\n" + layout.read_text(encoding="utf-8"), encoding="utf-8")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")
    _call(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "dist",
          source, cwd=tmp, env=env)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("notifier-*.whl")

    venv = tmp / "venv"
    _call(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    python = venv / "bin" / "python"
    _call(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=tmp, env=env)
    site = _call(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                 cwd=tmp, env=env).stdout.strip()  # fmt: skip
    # Third-party packages from the project's virtualenv (a .pth there, like the editable
    # finder of notifier itself, is not run from a directory added this way).
    borrowed = sysconfig.get_paths()["purelib"]
    assert Path(borrowed).resolve() != ROOT.resolve()
    (Path(site) / "project-deps.pth").write_text(borrowed + "\n", encoding="utf-8")
    return venv / "bin"


def test_a_wheel_installed_elsewhere_runs_from_an_empty_folder(
    installed: Path, tmp_path: Path
) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "PYTHON"))}
    where = _call(
        installed / "python", "-c",
        "import notifier, notifier.shipped as s; "
        "print(notifier.__file__, s.TEMPLATES_DIR, s.POLICY_FILE, sep='\\n')",
        cwd=work, env=env,
    ).stdout.split()  # fmt: skip
    venv = installed.parent.resolve()
    for path in where:
        assert Path(path).resolve().is_relative_to(venv), where
    assert Path(where[2]).is_file()

    def notifier(*args: str) -> subprocess.CompletedProcess[str]:
        return _call(installed / "notifier", "--db", f"sqlite:///{work / 'n.db'}", *args,
                     cwd=work, env=env)  # fmt: skip

    notifier("init")
    for kind in ("customers", "receivables", "payments"):
        notifier("import", kind, str(ROOT / "samples" / f"{kind}.csv"))
    notifier("plan", "--at", AT)
    drafts = json.loads(notifier("drafts", "--json").stdout)
    sms = [d for d in drafts if d["channel"] == "sms"]
    assert sms, "the sample portfolio has SMS reminders due on 2026-03-02"
    assert all(d["body"].startswith(MARKER) for d in sms)
    assert not (work / "config").exists() and not (work / "templates").exists()


def test_a_config_folder_and_a_templates_dir_of_ones_own_override_the_shipped_ones(
    installed: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "PYTHON"))}
    (tmp_path / "config").mkdir()
    policy = (ROOT / "config" / "notifier.toml").read_text(encoding="utf-8")
    (tmp_path / "config" / "notifier.toml").write_text(
        policy.replace("sms_per_day = 1", "sms_per_day = -1"), encoding="utf-8"
    )
    db = f"sqlite:///{tmp_path / 'n.db'}"
    refused = subprocess.run([installed / "notifier", "--db", db, "init"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and "caps.sms_per_day" in refused.stderr

    (tmp_path / "config" / "notifier.toml").unlink()
    own = {**env, "NOTIFIER_TEMPLATES_DIR": str(ROOT / "templates")}  # no marker in these
    for args in (("init",), *(("import", k, str(ROOT / "samples" / f"{k}.csv"))
                             for k in ("customers", "receivables", "payments")),
                 ("plan", "--at", AT)):  # fmt: skip
        _call(installed / "notifier", "--db", db, *args, cwd=tmp_path, env=own)
    drafts = json.loads(_call(installed / "notifier", "--db", db, "drafts", "--json",
                              cwd=tmp_path, env=own).stdout)  # fmt: skip
    sms = [d["body"] for d in drafts if d["channel"] == "sms"]
    assert sms and not any(MARKER in body for body in sms)

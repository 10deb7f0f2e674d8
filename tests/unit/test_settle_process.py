"""A worker settles before its first tick (issue 12): every template compiled at start, so
a broken one is found then, and start-up's objects frozen out of the collector's walks."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest
from jinja2 import TemplateSyntaxError

from notifier.render import Renderer
from notifier.render.renderer import HTML_PREFIX
from notifier.services.startup import settle_process
from notifier.shipped import TEMPLATES_DIR


def test_compile_all_compiles_every_template_and_the_html_copies_of_the_emails() -> None:
    renderer = Renderer()
    listed = [n for n in renderer.env.list_templates() if n.endswith(".j2")]
    emails = [n for n in listed if n.startswith("email/")]
    assert renderer.compile_all() == len(listed) + len(emails)
    assert set(renderer._compiled) == {*listed, *(HTML_PREFIX + n for n in emails)}


def test_a_broken_template_fails_at_start_not_in_the_first_tick(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    (folder / "sms" / "zh-CN" / "broken.txt.j2").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(TemplateSyntaxError):
        Renderer(folder).compile_all()


def test_settle_process_freezes_what_start_up_built() -> None:
    frozen_before = gc.get_freeze_count()
    try:
        assert settle_process(Renderer()) > 0
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()

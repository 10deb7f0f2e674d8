"""What the renderer keeps between messages (issue 12) and what it must not: templates are
compiled once unless auto_reload (development) is on, a directory of one's own keeps its
own subject template, and the fast money formatting and amount scan give exactly what
Babel and the regular expression scan give."""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency

from notifier.cli.shell import Shell
from notifier.domain.lint import _MONEY, _money_matches
from notifier.domain.policy import Policy
from notifier.render import Renderer
from notifier.render.formatting import _parsed, format_money, money_format
from notifier.shipped import TEMPLATES_DIR
from tests.unit.test_render_golden import _base, render_all

SMS = "sms/en/_layout.txt.j2"


def own_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    later = path.stat().st_mtime + 5  # a new modification time, whatever the clock's grain
    os.utime(path, (later, later))


def test_with_auto_reload_a_template_edited_on_disk_is_used_for_the_next_message(
    tmp_path: Path,
) -> None:
    directory = own_templates(tmp_path)
    renderer = Renderer(directory, auto_reload=True)
    ctx = _base("en", "friendly", "neutral")
    assert renderer.sms(ctx).body.endswith("Reply STOP to opt out")
    edit(directory / SMS, "Reply STOP to opt out", "Reply STOP to stop these messages")
    assert renderer.sms(ctx).body.endswith("Reply STOP to stop these messages")
    edit(directory / "email/en/friendly.j2", "Your account statement from", "A statement from")
    assert renderer.email(ctx).subject.startswith("A statement from")


def test_without_auto_reload_each_template_is_compiled_once_per_renderer(tmp_path: Path) -> None:
    directory = own_templates(tmp_path)
    renderer = Renderer(directory)
    ctx = _base("en", "friendly", "neutral")
    before = renderer.sms(ctx).body
    edit(directory / SMS, "Reply STOP to opt out", "Reply STOP to stop these messages")
    assert renderer.sms(ctx).body == before
    assert Renderer(directory).sms(ctx).body.endswith("Reply STOP to stop these messages")


def test_the_command_line_reloads_templates_in_development_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOTIFIER_DATABASE_URL", f"sqlite:///{tmp_path / 'n.db'}")
    development = Shell().settings
    assert development.environment == "development"
    for environment, reloads in (("development", True), ("production", False)):
        shell = Shell()
        shell.__dict__["settings"] = development.model_copy(update={"environment": environment})
        assert shell.sweep_context.renderer.auto_reload is reloads


def test_a_subject_template_of_ones_own_is_still_used(tmp_path: Path) -> None:
    directory = own_templates(tmp_path)
    edit(
        directory / "email/_subject.j2", "{{ m.subject()|trim }}", "[Notice] {{ m.subject()|trim }}"
    )
    ctx = _base("en", "offer", "firm")
    shipped = Renderer().email(ctx)
    own = Renderer(directory).email(ctx)
    assert own.subject == f"[Notice] {shipped.subject}"
    assert (own.text, own.html) == (shipped.text, shipped.html)


def test_the_subject_taken_from_the_text_layout_is_the_subject_template_s(policy: Policy) -> None:
    """auto_reload renders email/_subject.j2 itself: both ways give the same bytes."""
    assert render_all(Renderer(auto_reload=True), policy) == render_all(Renderer(), policy)


def test_a_render_error_in_the_subject_still_names_the_subject_template(tmp_path: Path) -> None:
    from notifier.render import RenderError

    directory = own_templates(tmp_path)
    edit(directory / "email/en/offer.j2", "from {{ creditor_name }}{% endmacro %}",
         "from {{ no_such_name }}{% endmacro %}")  # fmt: skip
    with pytest.raises(RenderError, match="no_such_name"):
        Renderer(directory).email(_base("en", "offer", "firm"))


CURRENCIES = ("CNY", "USD", "EUR", "JPY", "KWD", "HKD", "GBP", "CHF", "INR", "XYZ")
LOCALES = ("zh-CN", "en", "de-DE", "fr", "hi-IN", "ar")


@pytest.mark.parametrize("locale", LOCALES)
def test_money_is_formatted_exactly_as_babel_formats_it(locale: str) -> None:
    rng = random.Random(12)
    values = [Decimal(rng.randrange(0, 10 ** rng.randrange(1, 14))) / 100 for _ in range(300)]
    values += [Decimal(v) for v in ("0", "-0.00", "-12.50", "0.005", "0.015", "999.995",
                                    "1000000", "12345678901234.56")]  # fmt: skip
    for currency in CURRENCIES:
        for value in values:
            want = format_currency(value.quantize(Decimal("0.01")), currency,
                                   locale=_parsed(locale))  # fmt: skip
            assert format_money(value, currency, locale) == want, (currency, locale, value)


def test_a_locale_whose_money_is_not_grouped_by_thousands_falls_back_to_babel() -> None:
    assert money_format("INR", "hi-IN").fast is False  # 12,34,567.89
    assert format_money(Decimal("1234567.89"), "INR", "hi-IN") == "₹12,34,567.89"
    assert money_format("CNY", "zh-CN").fast is True


def test_the_amount_scan_finds_the_matches_the_regular_expression_finds() -> None:
    rng = random.Random(7)
    alphabet = "0123456789 ,.:¥￥$€£CNYRMBUSDEUGBPcnyrmbusdeugbp元万天号日月年%\n-abcxyz"
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        want = [(m.span(), m.groupdict()) for m in _MONEY.finditer(text)]
        assert [(m.span(), m.groupdict()) for m in _money_matches(text)] == want, text


def test_values_cached_for_one_message_never_reach_the_next() -> None:
    renderer = Renderer()
    first = _base("en", "offer", "firm")
    other = replace(first, total_outstanding=Decimal("86000.01"))
    assert "CN¥86,000.00" in renderer.email(first).text
    again = renderer.email(other).text
    assert "CN¥86,000.01" in again and "CN¥86,000.00" not in again
    assert re.search(r"CN¥86,000\.00", renderer.email(first).text)

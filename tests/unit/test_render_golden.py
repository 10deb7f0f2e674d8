"""The rendered bytes stay the same: every step x tone x locale x channel over a set of
positions (overdue, pre-due, single item, other currencies and a dispute, no penalty,
special characters, a fallback that follows each step) renders exactly as the renderer
did before it was made faster (issue 12: formatters and template modules built once).

``render_golden.json.gz`` beside this file was written by the renderer *before* that
change (``python -m tests.unit.test_render_golden --write``); rewrite it only when a
template's wording changes on purpose, and review the diff of the outputs then.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from notifier.domain.lint import lint
from notifier.domain.policy import Policy
from notifier.drafting.compose import compose, lint_facts
from notifier.render import ItemLine, MessageContext, Renderer
from notifier.settings import load_policy

GOLDEN = Path(__file__).with_name("render_golden.json.gz")
ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "pre_due", "friendly", "offer", "formal_notice", "instalment_offer", "lawyer_letter",
    "consequences", "final_notice", "fallback", "thank_you",
)  # fmt: skip
TONES = ("friendly", "neutral", "firm", "formal")
LOCALES = ("zh-CN", "en")


def _item(n: int, due: date, days: int, owed: str, penalty: str, currency: str = "CNY",
          paused: str = "0.00") -> ItemLine:  # fmt: skip
    return ItemLine(f"INV-2026-{n:04d}", date(2025, 12, 1 + n), due, days, Decimal(owed),
                    Decimal(penalty), currency, Decimal(paused))  # fmt: skip


def _base(locale: str, step: str, tone: str) -> MessageContext:
    items = (
        _item(1, date(2026, 3, 1), 5, "30000.00", "75.00"),
        _item(2, date(2026, 3, 3), 3, "26000.00", "39.00"),
        _item(3, date(2026, 3, 12), -6, "30000.00", "0.00"),
    )
    return MessageContext(
        locale=locale, tone=tone, step=step,
        customer_name="上海宏达贸易有限公司" if locale == "zh-CN" else "Acme Trading Ltd.",
        customer_kind="business",
        creditor_name="星辰供应链有限公司" if locale == "zh-CN" else "Xingchen Supply Co.",
        creditor_contact="400-820-0000", items=items, currency="CNY",
        total_outstanding=Decimal("86000.00"), overdue_count=2,
        total_overdue=Decimal("56000.00"), max_days_overdue=5,
        total_penalty=Decimal("114.00"), penalty_rate_daily=Decimal("0.0005"),
        payment_url="https://pay.example.cn/c/C001",
        pay_options=(date(2026, 3, 9), date(2026, 3, 11)), legal_authorised=False,
        offer_waiver_percent=50, offer_pay_by=date(2026, 3, 13), final_days=5,
        as_of=date(2026, 3, 6),
    )  # fmt: skip


def _variants(base: MessageContext) -> dict[str, MessageContext]:
    """Positions that take different branches of the templates and the formatters."""
    pre_items = (
        _item(1, date(2026, 3, 9), -3, "30000.00", "0.00"),
        _item(2, date(2026, 3, 9), -3, "26000.00", "0.00"),
        _item(3, date(2026, 3, 11), -5, "1234.56", "0.00"),
        _item(4, date(2026, 4, 20), -45, "999.99", "0.00"),
    )
    mixed = (
        _item(1, date(2026, 2, 1), 33, "1234567.89", "20370.37", "USD", paused="500.00"),
        _item(2, date(2026, 3, 10), -4, "0.01", "0.00", "EUR"),
        _item(3, date(2026, 3, 10), -4, "7.50", "0.00", "HKD"),
    )
    return {
        "overdue": base,
        "legal": replace(base, legal_authorised=True),
        "pre_due": replace(
            base,
            items=pre_items,
            overdue_count=0,
            total_overdue=Decimal("0.00"),
            max_days_overdue=-3,
            total_penalty=Decimal("0.00"),
            total_outstanding=Decimal("58234.55"),
            offer_waiver_percent=0,
        ),  # fmt: skip
        "far_pre_due": replace(
            base,
            items=pre_items[3:],
            overdue_count=0,
            total_overdue=Decimal("0.00"),
            max_days_overdue=-45,
            total_penalty=Decimal("0.00"),
            total_outstanding=Decimal("999.99"),
        ),  # fmt: skip
        "single_individual": replace(
            base,
            items=(_item(7, date(2026, 3, 5), 1, "88.80", "0.04"),),
            overdue_count=1,
            total_overdue=Decimal("88.80"),
            max_days_overdue=1,
            total_penalty=Decimal("0.04"),
            total_outstanding=Decimal("88.80"),
            customer_kind="individual",
            customer_name="王小明1000号",
            legal_authorised=True,
            final_days=1,
            pay_options=(date(2026, 12, 31), date(2027, 1, 4)),
            offer_pay_by=date(2027, 1, 2),
            penalty_rate_daily=Decimal("0.00035"),
        ),  # fmt: skip
        "mixed_currencies": replace(
            base,
            items=mixed,
            currency="USD",
            overdue_count=1,
            total_overdue=Decimal("1234567.89"),
            max_days_overdue=33,
            total_penalty=Decimal("20370.37"),
            total_outstanding=Decimal("1234575.40"),
            customer_name='<b>O\'Brien & "Sons"</b>',
            creditor_name="A&B <Credit>",
            payment_url="pay at the counter <no link>",
            offer_waiver_percent=33,
        ),  # fmt: skip
        "no_penalty": replace(
            base,
            total_penalty=Decimal("0.00"),
            offer_waiver_percent=0,
            items=tuple(replace(i, penalty=Decimal("0.00")) for i in base.items),
        ),
    }


def cases() -> dict[str, tuple[MessageContext, str]]:
    found: dict[str, tuple[MessageContext, str]] = {}
    for locale in LOCALES:
        for step in STEPS:
            for tone in TONES:
                for name, ctx in _variants(_base(locale, step, tone)).items():
                    for channel in ("sms", "email"):
                        found[f"{locale}/{step}/{tone}/{name}/{channel}"] = (ctx, channel)
                    if step == "fallback":
                        for follows in STEPS[:8]:
                            key = f"{locale}/{step}/{tone}/{name}/follows-{follows}/sms"
                            found[key] = (replace(ctx, follows=follows), "sms")
    return found


def render_all(renderer: Renderer, policy: Policy) -> dict[str, dict[str, object]]:
    """Each case as compose returns it: the texts, the segments, the facts and the lint."""
    out: dict[str, dict[str, object]] = {}
    for key, (ctx, channel) in cases().items():
        c = compose(ctx, "sms" if channel == "sms" else "email", renderer, policy)
        out[key] = {
            "subject": c.subject, "body": c.body, "html": c.html, "segments": c.segments,
            # The order of equally long ids to ignore was the set's (any order): compared
            # as a set.
            "facts": {**c.facts, "ignore": sorted(c.facts["ignore"])},
            "lint": [str(p) for p in c.lint],
        }  # fmt: skip
    return out


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    return data


def test_every_case_renders_byte_for_byte_as_before(
    golden: dict[str, dict[str, object]], policy: Policy
) -> None:
    now = render_all(Renderer(), policy)
    assert set(now) == set(golden)
    changed = [key for key in golden if now[key] != golden[key]]
    assert not changed, f"{len(changed)} cases render differently, first: {changed[:5]}"


def test_the_golden_cases_cover_every_step_tone_locale_and_channel(
    golden: dict[str, dict[str, object]],
) -> None:
    seen = {tuple(key.split("/")[:3]) + (key.rsplit("/", 1)[1],) for key in golden}
    want = {(loc, s, t, ch) for loc in LOCALES for s in STEPS for t in TONES
            for ch in ("sms", "email")}  # fmt: skip
    assert want <= seen
    # The variants do reach the branches they are for: HTML escaping, another currency,
    # a text with no link button, a dispute's paused amount.
    html = str(golden["en/offer/firm/mixed_currencies/email"]["html"])
    assert "&lt;b&gt;O&#39;Brien &amp; &#34;Sons&#34;&lt;/b&gt;" in html
    assert "$1,234,567.89" in html and "€0.01" in html
    assert "pay at the counter &lt;no link&gt;" in html


def test_rendering_a_second_time_gives_the_same_bytes(policy: Policy) -> None:
    """Whatever is cached between drafts never leaks one draft's values into another."""
    renderer = Renderer()
    first = render_all(renderer, policy)
    assert render_all(renderer, policy) == first


def test_lint_results_in_the_golden_cases_are_those_of_the_linter(
    golden: dict[str, dict[str, object]], policy: Policy
) -> None:
    """The golden lint results are the linter's own on the golden texts (a faster linter
    still finds every problem it found before)."""
    for key, (ctx, channel) in list(cases().items())[::7]:
        g = golden[key]
        facts = lint_facts(ctx, "sms" if channel == "sms" else "email")
        if channel == "sms":
            problems = lint(str(g["body"]), facts, policy.lint, segments=int(str(g["segments"])),
                            max_segments=policy.planning.sms_max_segments)  # fmt: skip
        else:
            problems = lint(str(g["body"]), facts, policy.lint, subject=str(g["subject"]))
        assert [str(p) for p in problems] == g["lint"], key


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    rendered = render_all(Renderer(), load_policy(ROOT / "config" / "notifier.toml"))
    raw = json.dumps(rendered, ensure_ascii=False, sort_keys=True).encode()
    GOLDEN.write_bytes(gzip.compress(raw, mtime=0))
    print(f"wrote {len(rendered)} cases to {GOLDEN} ({len(raw):,} bytes before gzip)")

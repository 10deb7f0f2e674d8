"""Issue 13 in the browser: the main pages fit a 390 px phone with no sideways scroll, the
Chinese pages show no internal code in any visible text, each role has its home page, the
unsubscribe page speaks the customer's language, and the e-mail preview opens full size.
Screenshots of the home pages are written under docs/ (home-*.png)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import col

from notifier.services.users import add_user
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Reminder
from notifier.tracking import Tracker

if TYPE_CHECKING:
    from tests.e2e.conftest import Login, Site

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}
CODES = re.compile(
    r"\b(pre_due|m[123]|friendly|neutral|firm|formal|sms|email|pending_approval|"
    r"legal_threat|fallback(-\d+)?|final_notice|lawyer_letter|formal_notice|planner|reviewer|"
    r"collector|manager|D\d{1,2})\b",
    re.IGNORECASE,
)


def drafts(site: Site) -> dict[str, int]:
    """One SMS and one e-mail draft of the sample portfolio."""
    with unit_of_work(site.engine) as session:
        found = {}
        for channel in ("sms", "email"):
            r = session.scalars(
                select(Reminder).where(col(Reminder.channel) == channel).order_by(col(Reminder.id))
            ).first()
            assert r is not None and r.id is not None
            found[channel] = r.id
        return found


def main_pages(site: Site) -> list[str]:
    d = drafts(site)
    return ["/home", "/", f"/drafts/{d['sms']}", f"/drafts/{d['email']}", "/customers",
            "/customers/C001", "/customers/C005", "/reports/aging", "/reports/funnel",
            "/reports/collectors"]  # fmt: skip


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return int(page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    ))  # fmt: skip


def visible_text(page: Page) -> str:
    """Every text node a person can see (inside <main> and the header)."""
    return str(page.evaluate("() => document.body.innerText"))


def test_at_390_px_no_main_page_scrolls_sideways(page: Page, site: Site, login: Login) -> None:
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    login(page, "manager", site.passwords["manager"])  # sees every section of the home
    for path in main_pages(site):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert overflow(page) <= 0, f"{path} is {overflow(page)} px too wide at 390 px"
    # a wide table stays inside its box (it wraps, or scrolls there): never past the screen
    page.goto("/reports/aging")
    box = page.locator("div.scroll:has(table.aging)").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # one column: the customer page's aside sits under its main column
    page.goto("/customers/C001")
    first, aside = (
        page.locator(".grid > div").first.bounding_box(),
        page.locator(".grid > aside").bounding_box(),
    )
    assert (
        first is not None and aside is not None and aside["y"] >= first["y"] + first["height"] - 1
    )
    DOCS.mkdir(exist_ok=True)
    page.goto("/home")
    page.screenshot(path=str(DOCS / "home-manager-phone.png"), full_page=True)


def test_the_chinese_pages_show_no_english_code(page: Page, site: Site, login: Login) -> None:
    login(page, "reviewer", site.passwords["reviewer"])
    for path in main_pages(site):
        page.goto(path)
        text = visible_text(page)
        found = sorted(
            {m.group(0) for m in CODES.finditer(text)} - {"reviewer"}
            | ({"reviewer"} if re.search(r"\(reviewer\)", text) else set())
        )
        assert found == [], f"{path} shows {found}"
    page.goto("/")
    steps = page.locator("tr.row td.step").all_inner_texts()
    assert steps and all(not s.isascii() for s in steps)  # the queue shows the step, in words


def test_the_reviewers_home_shows_the_next_slot_and_links_to_its_drafts(
    page: Page, site: Site, login: Login
) -> None:
    login(page, "reviewer", site.passwords["reviewer"])
    page.goto("/home")
    expect(page.locator("#slot-clock")).to_contain_text("下一发送时段：2026-03-02 09:00")
    expect(page.locator("#slot-clock .countdown")).to_have_text("还有0小时30分钟")
    count = int(page.locator("#tile-before-next .figure").inner_text())
    assert count > 0
    page.screenshot(path=str(DOCS / "home-reviewer.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#tile-before-next").click()
    expect(page.locator("tr.row")).to_have_count(count)


def test_the_collectors_home_lists_their_own_customers(
    page: Page, site: Site, login: Login
) -> None:
    with unit_of_work(site.engine) as session:
        add_user(session, "张伟", "collector", "zhang-pass-2026", site.clock())
        own = set(
            session.scalars(select(col(Customer.id)).where(col(Customer.collector) == "张伟"))
        )
    login(page, "张伟", "zhang-pass-2026")
    page.goto("/home")
    expect(page.locator("#collector h2")).to_have_text("我的客户 · 今日")
    listed = set(page.locator("#collector li[data-customer]").evaluate_all(
        "ls => ls.map(l => l.dataset.customer)"))  # fmt: skip
    assert listed <= own


def test_the_managers_home_has_the_trend_chart_and_dso(
    page: Page, site: Site, login: Login
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "manager", site.passwords["manager"])  # English
    page.goto("/home")
    expect(page.locator("#dso h2")).to_have_text("Days sales outstanding (DSO)")
    expect(page.locator("#dso tr[data-day]")).to_have_count(7)
    expect(page.locator("#overdue-trend svg.chart").first).to_be_visible()
    expect(page.locator("#tile-legal .figure")).to_have_text(re.compile(r"^\d+$"))
    page.screenshot(path=str(DOCS / "home-manager.png"), full_page=True)


def test_the_unsubscribe_page_speaks_the_customers_language(page: Page, site: Site) -> None:
    with unit_of_work(site.engine) as session:
        email = session.scalars(
            select(Reminder).where(col(Reminder.channel) == "email",
                                   col(Reminder.locale) == "zh-CN")
        ).first()  # fmt: skip
        assert email is not None and email.id is not None
        reminder_id = email.id
    tracker = Tracker("e2e-secret-key-" + "x" * 32, site.url)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.goto(tracker.unsubscribe_url(reminder_id).removeprefix(site.url))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("退订邮件提醒")
    assert page.locator(".sheet").evaluate("s => getComputedStyle(s).borderRadius") == "10px"
    assert overflow(page) <= 0
    with page.expect_navigation():
        page.get_by_role("button", name="确认退订").click()
    expect(page.get_by_role("status")).to_have_text("您将不再收到我们的邮件提醒。")


def test_the_email_preview_opens_full_size(page: Page, site: Site, login: Login) -> None:
    email = drafts(site)["email"]
    login(page, "reviewer", site.passwords["reviewer"])
    page.goto(f"/drafts/{email}")
    frame = page.locator("iframe.preview").bounding_box()
    assert frame is not None and frame["height"] >= 500  # no longer 32rem and cut
    with page.context.expect_page() as opened:
        page.locator("#full-preview").click()
    full = opened.value
    full.wait_for_load_state()
    # the whole e-mail as a page: its own inline styles apply, and it is all there
    body = full.locator("body")
    assert body.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(244, 245, 247)"
    assert full.evaluate("() => document.body.scrollHeight") > 300
    full.close()

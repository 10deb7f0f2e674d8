"""The pages work under their Content-Security-Policy in a real browser: the e-mail
preview is drawn with its own inline styles (allowed by hash, scripts still blocked) and
the language switch, once an inline handler, works from its static script. The page
fixture fails any test whose page reports a policy violation on the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import col

from notifier.store.db import unit_of_work
from notifier.store.models import Reminder

if TYPE_CHECKING:
    from tests.e2e.conftest import Login, Site

pytestmark = pytest.mark.e2e


def test_the_email_preview_is_styled_and_the_language_switch_works(
    page: Page, site: Site, login: Login
) -> None:
    with unit_of_work(site.engine) as session:
        email = session.scalars(
            select(Reminder).where(col(Reminder.channel) == "email").order_by(col(Reminder.id))
        ).first()
    assert email is not None and email.html
    login(page, "manager", site.passwords["manager"])
    page.goto(f"/drafts/{email.id}")
    body = page.frame_locator("iframe.preview").locator("body")
    # the layout's own inline style (background-color:#f4f5f7), not the browser default
    assert body.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(244, 245, 247)"
    with page.expect_navigation():
        page.select_option("select[name=locale]", "zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert page.url.endswith(f"/drafts/{email.id}")  # back where the switch was used

"""A reviewer's day in the browser: log in, filter the queue, approve by checkbox and by
key, edit a draft the linter refuses and fix it, approve and reject, read the customer's
timeline, switch language, log out; and a customer whose name is a script stays text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import col

from notifier.store.db import unit_of_work
from notifier.store.models import Event, Reminder

if TYPE_CHECKING:
    from tests.e2e.conftest import Login, Site

pytestmark = pytest.mark.e2e

THREAT = "否则我们将起诉你"
SCRIPT_NAME = "<script>window.__pwned=1</script>"
SCRIPT_CUSTOMER = (
    "customer_id,name,kind,phone,email,timezone,locale,country,tier,collector,notes\n"
    f"C900,{SCRIPT_NAME},individual,13700137000,,Asia/Shanghai,zh-CN,CN,,,\n"
)
SCRIPT_RECEIVABLE = (
    "invoice_id,customer_id,amount,currency,issued_on,due_on,penalty_rate_daily,payment_url\n"
    "INV-E2E-0001,C900,1000.00,CNY,2026-01-10,2026-02-10,,\n"
)


def as_reviewer(page: Page, site: Site, login: Login) -> None:
    login(page, "reviewer", site.passwords["reviewer"])
    expect(page.locator("h1")).to_have_text("待审批")


def queue_ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("tr.row").evaluate_all("rs => rs.map(r => r.dataset.id)")]


def draft_of(site: Site, customer_id: str) -> Reminder:
    with unit_of_work(site.engine) as session:
        return session.scalars(
            select(Reminder).where(col(Reminder.customer_id) == customer_id)
        ).one()


def status_of(site: Site, draft_id: int) -> tuple[str, str | None]:
    with unit_of_work(site.engine) as session:
        r = session.get(Reminder, draft_id)
        assert r is not None
        return r.status, r.decided_by


def filter_queue(page: Page, **choices: str) -> None:
    form = page.locator("form.filters")
    for name, value in choices.items():
        form.locator(f"select[name={name}]").select_option(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


# --- login, the queue (notifier/web/ui/queue.py), language, logout ---------------------


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_queue(
    page: Page, site: Site, login: Login
) -> None:
    page.goto("/?channel=sms")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=name]", "reviewer")
    page.fill("input[name=password]", "not-the-password")
    page.click("form.login button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    expect(page.locator("tr.row")).to_have_count(0)

    page.fill("input[name=name]", "reviewer")
    page.fill("input[name=password]", site.passwords["reviewer"])
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(f"{site.url}/?channel=sms")  # back where the reviewer was going
    expect(page.locator("h1")).to_have_text("待审批")
    expect(page.locator("header .user")).to_have_text("reviewer (审核员)")  # the role in words

    page.goto("/")
    expect(page.locator("tr.row")).to_have_count(9)  # the sample portfolio's drafts
    with unit_of_work(site.engine) as session:
        kinds = session.scalars(
            select(col(Event.kind)).where(col(Event.kind).in_(("login", "login_failed")))
        ).all()
    assert sorted(kinds) == ["login", "login_failed"]


def test_the_queue_filters_by_channel_and_by_stage(page: Page, site: Site, login: Login) -> None:
    as_reviewer(page, site, login)
    filter_queue(page, channel="sms")
    expect(page).to_have_url(re.compile(r"channel=sms"))
    rows = page.locator("tr.row")
    expect(rows).to_have_count(5)
    assert set(rows.locator("td:nth-child(5)").all_inner_texts()) == {"短信"}  # words, not codes

    filter_queue(page, stage="m1")  # and still SMS
    expect(rows).to_have_count(2)
    expect(rows.locator("td:nth-child(2) .muted")).to_have_text(["C001", "C012"])
    expect(page.locator("select[name=channel]")).to_have_value("sms")  # the form remembers

    filter_queue(page, channel="")  # every channel, stage m1
    expect(rows).to_have_count(3)
    expect(rows.locator("td:nth-child(2) .muted")).to_have_text(["C001", "C012", "C007"])
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"逾期1–30天 · B级 · 中风险"}

    filter_queue(page, stage="legal")
    expect(rows.locator("td:nth-child(2) .muted")).to_have_text(["C005"])


def test_bulk_approve_two_selected_rows(page: Page, site: Site, login: Login) -> None:
    as_reviewer(page, site, login)
    chosen = queue_ids(page)[:2]
    for draft_id in chosen:
        page.check(f"input[name=ids][value='{draft_id}']")
    page.get_by_role("button", name="批准所选").click()

    expect(page.get_by_role("status")).to_contain_text("已批准 2 条。")
    expect(page.locator("tr.row")).to_have_count(7)
    left = queue_ids(page)
    assert not set(chosen) & set(left)
    for draft_id in chosen:
        assert status_of(site, draft_id) == ("approved", "reviewer")
    for draft_id in left:
        assert status_of(site, draft_id) == ("pending_approval", None)


def test_keys_j_then_a_approve_the_second_row(page: Page, site: Site, login: Login) -> None:
    as_reviewer(page, site, login)
    rows = page.locator("tr.row")
    expect(rows.first).to_have_class(re.compile(r"\bcurrent\b"))
    second = queue_ids(page)[1]

    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    with page.expect_navigation():
        page.keyboard.press("a")

    expect(page.get_by_role("status")).to_contain_text("已批准 1 条。")
    expect(rows).to_have_count(8)
    assert second not in queue_ids(page)
    assert status_of(site, second) == ("approved", "reviewer")


def test_a_collector_reads_the_queue_but_cannot_approve(
    page: Page, site: Site, login: Login
) -> None:
    login(page, "collector", site.passwords["collector"])
    expect(page.locator("tr.row")).to_have_count(9)
    first = queue_ids(page)[0]
    page.check(f"input[name=ids][value='{first}']")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="批准所选").click()
    response = navigation.value
    assert response is not None and response.status == 403
    assert status_of(site, first) == ("pending_approval", None)


def test_switching_the_language_shows_english_labels(page: Page, site: Site, login: Login) -> None:
    as_reviewer(page, site, login)
    expect(page.get_by_role("button", name="批准所选")).to_be_visible()
    language = page.locator("header select[name=locale]")
    with page.expect_navigation():
        language.select_option("en")

    expect(page).to_have_url(f"{site.url}/")
    expect(page.locator("h1")).to_have_text("Approval queue")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("header nav")).to_contain_text("Customers")
    expect(page.locator("header nav")).to_contain_text("Reports")
    expect(page.locator("table.queue thead")).to_contain_text("Customer")
    expect(page.get_by_role("button", name="Approve selected")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(language).to_have_value("en")

    page.reload()  # kept with the user, not only for this page
    expect(page.locator("h1")).to_have_text("Approval queue")
    with page.expect_navigation():
        language.select_option("zh-CN")
    expect(page.locator("h1")).to_have_text("待审批")


def test_a_script_in_a_customer_name_never_runs(page: Page, site: Site, login: Login) -> None:
    site.add("customers", SCRIPT_CUSTOMER)
    site.add("receivables", SCRIPT_RECEIVABLE)
    assert site.plan().drafted == 1
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    as_reviewer(page, site, login)
    row = page.locator("tr.row").filter(has_text="C900")
    expect(row.locator("a.open")).to_have_text(SCRIPT_NAME)  # shown literally, as text
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main script").count() == 0
    assert errors == []


def test_log_out_ends_the_session(page: Page, site: Site, login: Login) -> None:
    as_reviewer(page, site, login)
    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{site.url}/login")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.locator("form.login")).to_be_visible()


# --- the draft and customer pages (notifier/web/ui/drafts.py, customers.py) -------------


def test_an_edit_with_a_threat_is_refused_then_fixed_saved_and_approved(
    page: Page, site: Site, login: Login
) -> None:
    draft = draft_of(site, "C001")  # the SMS of the D7 example
    assert draft.channel == "sms" and draft.id is not None
    as_reviewer(page, site, login)
    page.goto(f"/drafts/{draft.id}")
    body = page.locator("textarea[name=body]")
    expect(body).to_have_value(draft.body)
    live = page.locator("#live-problems")
    expect(live.locator("li.ok")).to_have_text("通过")  # checked once on load: clean

    body.press("Control+End")
    body.press_sequentially(THREAT)  # appended, as a reviewer types it
    expect(live.locator("li.bad")).to_contain_text(["提及尚未决定的法律措施：'起诉'"])
    with page.expect_navigation() as navigation:
        page.locator("#edit-form button[type=submit]").click()
    assert navigation.value is not None and navigation.value.status == 422
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#problems-stored li.bad")).to_contain_text(
        ["提及尚未决定的法律措施：'起诉'"]  # the reviewer's language, no rule id
    )
    expect(body).to_have_value(draft.body + THREAT)  # the reviewer's text is kept to fix
    assert draft_of(site, "C001").body == draft.body  # refused: nothing saved

    fixed = draft.body.replace("如已付款请忽略。", "如已付款,请忽略本短信。")
    body.fill(fixed)
    expect(live.locator("li.ok")).to_have_text("通过")
    with page.expect_navigation():
        page.locator("#edit-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/drafts/{draft.id}\?message=saved$"))
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.locator("#message-body")).to_have_text(fixed)
    assert draft_of(site, "C001").body == fixed

    with page.expect_navigation():
        page.locator("form.decide button[type=submit]").click()
    expect(page.get_by_role("status")).to_contain_text("已批准 1 条。")  # back on the queue
    assert draft.id not in queue_ids(page)
    assert status_of(site, draft.id) == ("approved", "reviewer")

    page.goto("/customers/C001")
    timeline = page.locator("#timeline li")
    edited = page.locator("#timeline li.ev-edit")
    expect(edited).to_have_count(1)
    expect(edited).to_contain_text("修改")
    expect(edited).to_contain_text("reviewer")
    approved = timeline.filter(has=page.locator(f"a[href='/drafts/{draft.id}']")).filter(
        has_text="批准"
    )
    expect(approved.filter(has_text="reviewer")).not_to_have_count(0)


def test_reject_with_a_reason_and_a_promise_show_on_the_customer_timeline(
    page: Page, site: Site, login: Login
) -> None:
    draft = draft_of(site, "C003")
    assert draft.id is not None
    as_reviewer(page, site, login)
    with page.expect_navigation():
        page.locator(f"tr.row[data-id='{draft.id}'] a.open").click()
    reject = page.locator("#reject")
    reject.locator("[name=reason]").fill("客户来电:本周已安排付款")
    with page.expect_navigation():
        reject.get_by_role("button", name="驳回").click()
    expect(page.locator("h1")).to_have_text("待审批")  # back on the queue, one row fewer
    expect(page.locator("tr.row")).to_have_count(8)
    assert status_of(site, draft.id) == ("rejected", "reviewer")

    page.goto("/customers")
    with page.expect_navigation():
        page.locator("table.customers a[href='/customers/C003']").first.click()
    expect(page.locator("h1")).to_contain_text("王芳")
    timeline = page.locator("#timeline li")
    rejected = timeline.filter(has_text="客户来电:本周已安排付款")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("驳回")
    expect(rejected).to_contain_text("reviewer")

    promises = timeline.filter(has_text="付款承诺")
    expect(promises).to_have_count(0)
    promise = page.locator("#promise form")
    promise.locator("[name=promised_on]").fill("2026-03-06")
    promise.locator("[name=amount]").fill("15000")
    promise.locator("[name=note]").fill("王女士电话承诺周五付清")
    with page.expect_navigation():
        promise.locator("button[type=submit]").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(promises).to_have_count(1)  # the timeline has the new entry
    expect(promises).to_contain_text("2026-03-06")
    expect(promises).to_contain_text("王女士电话承诺周五付清")


def test_only_a_manager_authorises_legal_steps_and_then_the_threat_lints_clean(
    page: Page, site: Site, login: Login
) -> None:
    as_reviewer(page, site, login)
    page.goto("/customers/C001")
    expect(page.locator("#timeline")).to_be_visible()
    expect(page.locator("#legal")).to_have_count(0)  # no form for a reviewer

    login(page, "manager", site.passwords["manager"])  # English
    page.goto("/customers/C001")
    with page.expect_navigation():
        page.get_by_role("button", name="Authorise legal steps").click()
    expect(page.get_by_role("status")).to_have_text("Legal flag changed.")
    flag = page.locator("#timeline li.ev-legal_authorised")
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("manager")
    expect(page.get_by_role("button", name="Withdraw the authorisation")).to_be_visible()

    draft = draft_of(site, "C001")
    page.goto(f"/drafts/{draft.id}")
    live = page.locator("#live-problems")
    expect(live.locator("li.ok")).to_have_text("clean")
    body = page.locator("textarea[name=body]")
    body.press("Control+End")
    with page.expect_response(lambda r: r.url.endswith(f"/drafts/{draft.id}/lint")) as answer:
        body.press_sequentially(THREAT)
    assert answer.value.json()["problems"] == []  # legal words are allowed now
    expect(live.locator("li.ok")).to_have_text("clean")


def test_the_r_key_opens_the_draft_with_the_reason_field_focused(
    page: Page, site: Site, login: Login
) -> None:
    as_reviewer(page, site, login)
    first = queue_ids(page)[0]
    with page.expect_navigation():
        page.keyboard.press("r")
    expect(page).to_have_url(f"{site.url}/drafts/{first}#reject")
    expect(page.locator("#reject-reason")).to_be_focused(timeout=2_000)


def test_a_script_name_stays_text_on_the_draft_and_customer_pages(
    page: Page, site: Site, login: Login
) -> None:
    site.add("customers", SCRIPT_CUSTOMER)
    site.add("receivables", SCRIPT_RECEIVABLE)
    assert site.plan().drafted == 1
    draft = draft_of(site, "C900")
    as_reviewer(page, site, login)
    for path in (f"/drafts/{draft.id}", "/customers?q=C900", "/customers/C900"):
        page.goto(path)
        expect(page.locator("main")).to_contain_text(SCRIPT_NAME)
        assert page.evaluate("typeof window.__pwned") == "undefined", path

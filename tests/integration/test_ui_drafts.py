"""The draft page of the reviewer web app over a real app and a real SQLite database: logged
in through the real login form, with the session's CSRF token as a browser sends it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import col

from notifier.domain.policy import Policy
from notifier.render import sms_segments
from notifier.services.users import add_user
from notifier.settings import Settings
from notifier.store.db import unit_of_work
from notifier.store.models import Customer, Event, Receivable, Reminder, ReminderEdit
from notifier.sweeps.plan import plan
from notifier.web import create_app
from tests.support import sweep_context, web_login

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLANNED = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)  # Monday, before the 09:00 slot
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"
SCRIPT_NAME = "<script>alert(1)</script>"
STATIC = Path(__file__).resolve().parents[2] / "notifier" / "web" / "static"


@pytest.fixture
def drafts(engine: Engine, policy: Policy) -> dict[str, int]:
    """C1 and C2 get an e-mail, C3 (no address) an SMS; C2 is called ``<script>...``."""
    with unit_of_work(engine) as s:
        for cid, email, name in (
            ("C1", "a@x.example", "客户C1"),
            ("C2", "b@x.example", SCRIPT_NAME),
            ("C3", None, "客户C3"),
        ):
            s.add(
                Customer(
                    id=cid,
                    name=name,
                    kind="business",
                    phone="+8613912345678",
                    email=email,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        s.flush()
        for cid in ("C1", "C2", "C3"):
            s.add(
                Receivable(
                    id=f"{cid}-1",
                    customer_id=cid,
                    amount_cents=1_234_500,
                    issued_on=date(2026, 1, 1),
                    due_on=date(2026, 1, 30),
                    created_at=T0,
                    updated_at=T0,
                )
            )
    ctx = sweep_context(policy)
    assert plan(engine, PLANNED, ctx, force=True).drafted == 3
    with unit_of_work(engine) as s:
        return {r.customer_id: r.id or 0 for r in s.scalars(select(Reminder))}


@pytest.fixture
def app(engine: Engine, policy: Policy, drafts: dict[str, int]) -> FastAPI:
    return create_app(Settings(), policy, engine, clock=lambda: PLANNED)


def add(engine: Engine, name: str, role: str, zone: str = "Asia/Shanghai") -> None:
    with unit_of_work(engine) as s:
        user = add_user(s, name, role, PASSWORD, T0, locale="en")
        user.timezone = zone


def login(app: FastAPI, name: str) -> tuple[TestClient, str]:
    """A browser logged in through the login form, and the CSRF token its pages carry."""
    client = TestClient(app)
    return client, web_login(client, name, PASSWORD, "/")


@pytest.fixture
def reviewer(engine: Engine, app: FastAPI) -> tuple[TestClient, str]:
    add(engine, "wang", "reviewer")
    return login(app, "wang")


def stored(engine: Engine, draft_id: int) -> Reminder:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, draft_id)
        assert r is not None
        return r


def textarea(html: str) -> str:
    found = re.search(r'<textarea name="body" id="edit-body"[^>]*>(.*?)</textarea>', html, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", ["/drafts/1", "/customers", "/customers/C1", "/"])
def test_pages_send_anonymous_users_to_the_login_page(app: FastAPI, path: str) -> None:
    answer = TestClient(app).get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + path


def test_anonymous_decisions_are_refused(
    app: FastAPI, engine: Engine, drafts: dict[str, int]
) -> None:
    anonymous = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', anonymous.get("/login").text)
    assert token is not None  # even with the anonymous session's own token
    answer = anonymous.post(
        f"/drafts/{drafts['C1']}/approve", data={"csrf": token.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert stored(engine, drafts["C1"]).status == "pending_approval"


def test_sms_draft_is_shown_as_it_will_be_sent_with_its_segments(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, _ = reviewer
    sms = stored(engine, drafts["C3"])
    answer = client.get(f"/drafts/{sms.id}")
    assert answer.status_code == 200
    pre = re.search(r'<pre class="message" id="message-body">(.*?)</pre>', answer.text, re.S)
    assert pre is not None and pre.group(1) == sms.body  # no markup in this body
    count, encoding = sms_segments(sms.body)
    assert count > 1  # the shipped template is a long Chinese SMS
    assert f"{count} SMS segment(s)" in answer.text and encoding in answer.text
    # beside it: the customer's open item, 31 days overdue, with its penalty
    assert re.search(r"<td>C3-1</td><td>2026-01-30</td><td class=\"num\">31</td>", answer.text)
    assert "CN¥12,345.00" in answer.text and "CN¥191.35" in answer.text
    assert "Drafted" in answer.text  # the customer's latest events
    assert "<iframe" not in answer.text  # an SMS has no HTML part


def test_email_html_is_in_a_sandbox_where_no_script_runs(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, _ = reviewer
    email = stored(engine, drafts["C1"])
    assert email.html and email.subject
    answer = client.get(f"/drafts/{email.id}")
    frames = re.findall(r"<iframe[^>]*>", answer.text)
    assert len(frames) == 1
    frame = frames[0]
    assert re.search(r"\ssandbox[\s>]", frame)  # the bare attribute: every restriction on
    assert "allow-scripts" not in answer.text and "allow-same-origin" not in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame)
    assert srcdoc is not None and "<" not in srcdoc.group(1)  # attribute-escaped
    assert "&lt;html" in srcdoc.group(1)
    assert email.subject in answer.text
    assert ">" + email.body + "</pre>" in answer.text  # the plain-text part


def test_live_lint_answers_problems_and_segments(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    sms = stored(engine, drafts["C3"])
    url = f"/drafts/{sms.id}/lint"
    threat = sms.body.replace("回复TD退订", "否则我们将起诉。回复TD退订")
    bad = client.post(url, json={"body": threat}, headers={"X-CSRF-Token": csrf}).json()
    assert any(p.startswith("legal_threat") for p in bad["problems"])
    assert bad["segments"] == sms_segments(threat)[0]
    good = client.post(url, json={"body": sms.body}, headers={"X-CSRF-Token": csrf}).json()
    codes = {k: good[k] for k in ("problems", "segments", "encoding")}
    assert codes == {"problems": [], "segments": sms_segments(sms.body)[0], "encoding": "UCS-2"}
    assert good["labels"] == []  # what the editor shows, in the reviewer's language
    assert client.post(url, json={"body": sms.body}).status_code == 403  # no token
    assert stored(engine, sms.id or 0).body == sms.body  # linting saves nothing


def test_draft_js_lints_live_with_the_csrf_header_and_honours_the_anchors() -> None:
    script = (STATIC / "draft.js").read_text(encoding="utf-8")
    assert '"X-CSRF-Token"' in script and 'meta[name="csrf-token"]' in script
    assert '"#edit"' in script and '"#reject"' in script and ".focus()" in script
    assert "innerHTML" not in script  # problems are shown as text


def test_page_has_the_edit_and_reject_anchors(
    reviewer: tuple[TestClient, str], drafts: dict[str, int]
) -> None:
    client, _ = reviewer
    html = client.get(f"/drafts/{drafts['C1']}").text
    assert 'id="edit"' in html and 'id="edit-body"' in html
    assert 'id="reject"' in html and 'id="reject-reason"' in html
    assert '<script src="/static/draft.js"></script>' in html
    assert client.get("/static/draft.js").status_code == 200


def test_refused_edit_keeps_the_draft_and_the_reviewers_text(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    sms = stored(engine, drafts["C3"])
    threat = sms.body.replace("回复TD退订", "否则我们将起诉至法院。回复TD退订")
    answer = client.post(
        f"/drafts/{sms.id}/edit", data={"csrf": csrf, "body": threat, "version": str(sms.version)}
    )
    assert answer.status_code == 422
    assert "legal_threat" in answer.text and "Your edit was not saved" in answer.text
    assert textarea(answer.text) == threat  # the reviewer's text, not lost
    after = stored(engine, sms.id or 0)
    assert (after.body, after.version, after.lint) == (sms.body, sms.version, [])
    with unit_of_work(engine) as s:
        assert s.scalars(select(ReminderEdit)).all() == []


def test_good_edit_is_saved_with_before_and_after(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    sms = stored(engine, drafts["C3"])
    better = "王经理您好，" + sms.body
    sent_by_browser = better.replace("\n", "\r\n")  # how a form sends a textarea
    answer = client.post(
        f"/drafts/{sms.id}/edit",
        data={"csrf": csrf, "body": sent_by_browser, "version": str(sms.version)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/drafts/{sms.id}?message=saved"
    after = stored(engine, sms.id or 0)
    assert after.body == better and after.version == sms.version + 1
    with unit_of_work(engine) as s:
        [edit] = s.scalars(select(ReminderEdit)).all()
    assert (edit.edited_by, edit.body_before, edit.body_after) == ("wang", sms.body, better)
    page = client.get(answer.headers["location"]).text
    assert "Edit saved." in page and "王经理您好" in page
    stale = client.post(
        f"/drafts/{sms.id}/edit", data={"csrf": csrf, "body": sms.body, "version": str(sms.version)}
    )
    assert stale.status_code == 409 and "changed meanwhile" in stale.text
    assert stored(engine, sms.id or 0).body == better


def test_approve_records_the_reviewer_and_returns_to_the_queue(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    answer = client.post(
        f"/drafts/{drafts['C1']}/approve", data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/?message=approved:1:0"
    assert "1 approved." in client.get(answer.headers["location"]).text
    after = stored(engine, drafts["C1"])
    assert (after.status, after.decided_by) == ("approved", "wang")
    with unit_of_work(engine) as s:
        actors = s.scalars(select(col(Event.actor)).where(col(Event.kind) == "approved")).all()
    assert actors == ["wang"]
    again = client.post(f"/drafts/{drafts['C1']}/approve", data={"csrf": csrf})
    assert again.status_code == 409 and "only pending drafts can be approved" in again.text


def test_a_draft_breaking_the_rules_cannot_be_approved(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    with unit_of_work(engine) as s:
        r = s.get(Reminder, drafts["C1"])
        assert r is not None
        r.lint = ["legal_threat: legal action is not decided for this customer"]
    client, csrf = reviewer
    page = client.get(f"/drafts/{drafts['C1']}").text
    assert "legal_threat" in page and re.search(r'class="primary"\s+disabled', page)
    answer = client.post(f"/drafts/{drafts['C1']}/approve", data={"csrf": csrf})
    assert answer.status_code == 422 and "breaks the content rules" in answer.text
    assert stored(engine, drafts["C1"]).status == "pending_approval"


def test_reject_needs_a_reason_and_records_it(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    url = f"/drafts/{drafts['C2']}/reject"
    blank = client.post(url, data={"csrf": csrf, "reason": "  "})
    assert blank.status_code == 422 and "A rejection needs a reason." in blank.text
    assert stored(engine, drafts["C2"]).status == "pending_approval"
    done = client.post(
        url, data={"csrf": csrf, "reason": "customer called, pays Friday"}, follow_redirects=False
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/?message=rejected:{drafts['C2']}"
    )
    after = stored(engine, drafts["C2"])
    assert (after.status, after.decided_by, after.reason) == (
        "rejected",
        "wang",
        "customer called, pays Friday",
    )


def test_collector_may_view_but_not_decide(
    app: FastAPI, engine: Engine, drafts: dict[str, int]
) -> None:
    add(engine, "li", "collector")
    client, csrf = login(app, "li")
    draft_id = drafts["C3"]
    view = client.get(f"/drafts/{draft_id}")
    assert view.status_code == 200
    assert (
        'id="edit-form"' not in view.text
        and f'action="/drafts/{draft_id}/approve"' not in view.text
    )
    body = stored(engine, draft_id).body
    for action, data in (
        ("approve", {}),
        ("reject", {"reason": "no"}),
        ("edit", {"body": "王经理您好，" + body}),
    ):
        answer = client.post(f"/drafts/{draft_id}/{action}", data={"csrf": csrf, **data})
        assert answer.status_code == 403, action
    after = stored(engine, draft_id)
    assert (after.status, after.body, after.decided_by) == ("pending_approval", body, None)


def test_posts_without_the_right_csrf_token_are_refused(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, _ = reviewer
    draft_id = drafts["C1"]
    assert client.post(f"/drafts/{draft_id}/approve").status_code == 403
    assert client.post(f"/drafts/{draft_id}/approve", data={"csrf": "forged"}).status_code == 403
    answer = client.post(f"/drafts/{draft_id}/reject", data={"reason": "x"})
    assert answer.status_code == 403
    assert stored(engine, draft_id).status == "pending_approval"


def test_a_script_in_a_customer_name_is_shown_as_text_everywhere(
    reviewer: tuple[TestClient, str], drafts: dict[str, int]
) -> None:
    client, _ = reviewer
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/", f"/drafts/{drafts['C2']}", "/customers/C2", "/customers"):
        html = client.get(path).text
        assert escaped in html, path
        assert SCRIPT_NAME not in html, path
        assert "<script>alert" not in html, path


def test_a_script_in_a_message_body_is_shown_as_text(
    reviewer: tuple[TestClient, str], engine: Engine, drafts: dict[str, int]
) -> None:
    client, csrf = reviewer
    email = stored(engine, drafts["C1"])
    body = "<script>alert('x')</script>\n\n" + email.body
    saved = client.post(
        f"/drafts/{email.id}/edit",
        data={
            "csrf": csrf,
            "body": body,
            "subject": email.subject or "",
            "version": str(email.version),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    html = client.get(f"/drafts/{email.id}").text
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the text part
    assert "&amp;lt;script&amp;gt;" in html  # the HTML part, escaped twice inside srcdoc


def test_slot_is_shown_in_the_customers_zone_and_the_viewers(
    app: FastAPI, engine: Engine, drafts: dict[str, int]
) -> None:
    add(engine, "smith", "reviewer", zone="Europe/London")
    client, _ = login(app, "smith")
    email = stored(engine, drafts["C1"])
    html = client.get(f"/drafts/{email.id}").text
    shanghai = email.slot_start.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    london = email.slot_start.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")
    assert shanghai == "2026-03-02 09:00" and london == "2026-03-02 01:00"
    assert shanghai in html and london in html and "Europe/London" in html


def test_unknown_draft_is_404(reviewer: tuple[TestClient, str]) -> None:
    client, csrf = reviewer
    assert client.get("/drafts/999").status_code == 404
    assert client.post("/drafts/999/approve", data={"csrf": csrf}).status_code == 404

"""D16, C3: machine opens, callback ordering, opt-out words, signed tracking links."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from notifier.domain.policy import DeliveryPolicy
from notifier.domain.reads import callback_outcome, is_machine_open, keyword, moves_forward
from notifier.tracking import Tracker, track_email
from notifier.web.logs import redact_path

POLICY = DeliveryPolicy()
SENT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.0"


def test_open_seconds_after_sending_is_a_machine_prefetch() -> None:
    assert is_machine_open(SENT, SENT + timedelta(seconds=3), BROWSER, "203.0.113.9", POLICY)
    assert not is_machine_open(SENT, SENT + timedelta(hours=2), BROWSER, "203.0.113.9", POLICY)


def test_open_through_an_image_proxy_or_apple_network_is_not_a_read() -> None:
    later = SENT + timedelta(hours=3)
    google = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    assert is_machine_open(SENT, later, google, "66.249.80.1", POLICY)
    assert is_machine_open(SENT, later, "Mozilla/5.0", "17.58.100.4", POLICY)  # Apple MPP


@pytest.mark.parametrize(
    ("current", "reported", "moves"),
    [("sent", "delivered", True), ("sending", "sent", True), ("delivered", "sent", False),
     ("delivered", "failed", False), ("failed", "delivered", False), ("sent", "sent", False),
     ("cancelled", "delivered", False), ("unknown", "delivered", True)],
)  # fmt: skip
def test_statuses_only_move_forward(current: str, reported: str, moves: bool) -> None:
    outcome = callback_outcome(reported)
    assert outcome is not None
    assert moves_forward(current, outcome) is moves


def test_queued_and_accepted_callbacks_record_nothing() -> None:
    assert callback_outcome("queued") is None and callback_outcome("accepted") is None
    assert callback_outcome("undelivered") == "failed"


@pytest.mark.parametrize(
    ("text", "word"),
    [("STOP", "stop"), (" stop ", "stop"), ("退订", "stop"), ("TD", "stop"), ("td", "stop"),
     ("Unsubscribe", "stop"), ("START", "start"), ("我下周付款", None), ("stop calling", "stop")],
)  # fmt: skip
def test_opt_out_and_start_words_of_a_reply(text: str, word: str | None) -> None:
    assert keyword(text, POLICY) == word


def test_tracking_tokens_round_trip_and_refuse_tampering() -> None:
    tracker = Tracker("k" * 40, "https://notifier.example")
    url = tracker.click_url(7, "https://pay.example.cn/c/C001")
    token = url.rsplit("/", 1)[1]
    assert tracker.read("click", token) == (7, "https://pay.example.cn/c/C001")
    assert tracker.read("open", token) is None  # a click token is not an open token
    assert tracker.read("click", token[:-2] + "xx") is None
    other = Tracker("z" * 40, "https://notifier.example")
    assert other.read("click", token) is None


def test_tracked_email_rewrites_links_adds_pixel_and_unsubscribe_headers() -> None:
    tracker = Tracker("k" * 40, "https://notifier.example")
    link = "https://pay.example.cn/c/C001?x=1&y=2"
    html = f'<html><body><a href="{link.replace("&", "&amp;")}">付款</a></body></html>'
    tracked = track_email(tracker, 9, f"请点击 {link} 付款", html)
    assert link not in tracked.text and "https://notifier.example/t/c/" in tracked.text
    assert tracked.html is not None and "/t/o/" in tracked.html and link not in tracked.html
    assert tracked.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert tracked.headers["List-Unsubscribe"].startswith("<https://notifier.example/u/")


def _targets(text: str) -> tuple[list[str], str]:
    """The click targets of the text part, and the text with each tracked link as <L>."""
    tracker = Tracker("k" * 40, "https://notifier.example")
    tracked = track_email(tracker, 9, text, None).text
    tokens = re.findall(r"https://notifier\.example/t/c/([\w\-]+(?:\.[\w\-]+)*)", tracked)
    targets = [found[1] for t in tokens if (found := tracker.read("click", t)) and found[1]]
    return targets, re.sub(r"https://notifier\.example/t/c/[\w\-]+(?:\.[\w\-]+)*", "<L>", tracked)


@pytest.mark.parametrize(
    ("text", "target", "rest"),
    [
        ("付款 https://pay.example.cn/c/O'Brien?x=1 谢谢", "https://pay.example.cn/c/O'Brien?x=1",
         "付款 <L> 谢谢"),
        ("链接：https://pay.example.cn/c/C001，谢谢。", "https://pay.example.cn/c/C001",
         "链接：<L>，谢谢。"),
        ("请点击https://pay.example.cn/c/C001。", "https://pay.example.cn/c/C001", "请点击<L>。"),
        ("（https://pay.example.cn/c/C001）", "https://pay.example.cn/c/C001", "（<L>）"),
        ("(see https://x.example/a_(b)).", "https://x.example/a_(b)", "(see <L>)."),
        ("'https://x.example/p?a=1&b=[2]*'", "https://x.example/p?a=1&b=[2]", "'<L>*'"),
        ("pay: https://x.example/p;v=1!$+,=~@:%20.", "https://x.example/p;v=1!$+,=~@:%20",
         "pay: <L>."),
    ],
)  # fmt: skip
def test_text_links_keep_legal_url_characters_and_stop_at_punctuation(
    text: str, target: str, rest: str
) -> None:
    assert _targets(text) == ([target], rest)


def test_tracked_links_carry_the_expiry_and_old_ones_have_none() -> None:
    tracker = Tracker("k" * 40, "https://notifier.example")
    last = date(2026, 5, 31)
    tracked = track_email(tracker, 9, "https://pay.example.cn/c/C001", "<p>x</p>", last)
    click = tracked.text.rsplit("/", 1)[1]
    opened = re.search(r"/t/o/([\w.\-]+)", tracked.html or "")
    assert opened is not None
    for purpose, token in (("click", click), ("open", opened.group(1))):
        found = tracker.verify(purpose, token)  # type: ignore[arg-type]
        assert found is not None and found.expires_on == last
        assert found.records_at(datetime(2026, 5, 31, 23, 59, tzinfo=UTC))
        assert not found.records_at(datetime(2026, 6, 1, tzinfo=UTC))
    old = tracker.verify("click", tracker.token("click", 9, "https://x.example"))
    assert old is not None and old.expires_on is None and old.records_at(datetime.now(UTC))


def test_the_access_log_filter_cuts_every_token_to_a_prefix() -> None:
    line = '127.0.0.1:5 - "GET /t/o/eyJyIjo5fQ.abcdefghijk?x=1 HTTP/1.1" 200'
    cut = redact_path(line)
    assert "eyJyIjo5fQ.abcdefghijk" not in cut and "/t/o/eyJyIj…?x=1" in cut
    for prefix in ("/t/c/", "/u/"):
        assert "sEcReTtOkEn" not in redact_path(f"{prefix}sEcReTtOkEn")
    assert redact_path("/customers/C1") == "/customers/C1"

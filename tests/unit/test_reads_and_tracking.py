"""D16, C3: machine opens, callback ordering, opt-out words, signed tracking links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifier.domain.policy import DeliveryPolicy
from notifier.domain.reads import callback_outcome, is_machine_open, keyword, moves_forward
from notifier.tracking import Tracker, track_email

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
     ("Unsubscribe", "stop"), ("START", "start"), ("我下周付款", None), ("stop calling", None)],
)  # fmt: skip
def test_opt_out_words_must_be_the_whole_reply(text: str, word: str | None) -> None:
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

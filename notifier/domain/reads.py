"""D16, C3: what a tracking hit, a status callback or an inbound SMS means.

- An open is a *machine open* (not counted as read) when it comes within a few seconds of
  sending, from a known image proxy's user agent, or from a prefetching network (Apple
  Mail Privacy Protection); otherwise a person opened the mail.
- Delivery statuses only move forward: a repeated or out-of-order callback never moves a
  reminder back (sent after delivered is ignored; the first final status stays).
- An inbound SMS opts the sender out when it carries an opt-out word the way people write
  one (:func:`read_reply`); a start word opts back in only when it is the whole reply.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from notifier.domain.lifecycle import callback_moves
from notifier.domain.policy import DeliveryPolicy


def is_machine_open(
    sent_at: datetime | None,
    at: datetime,
    user_agent: str,
    client_ip: str | None,
    policy: DeliveryPolicy,
) -> bool:
    if sent_at is not None and at - sent_at < timedelta(seconds=policy.machine_open_seconds):
        return True
    agent = user_agent.lower()
    if any(marker.lower() in agent for marker in policy.prefetch_agents):
        return True
    if client_ip:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(n) for n in policy.prefetch_networks)
    return False


Outcome = Literal["sent", "delivered", "failed"]


def callback_outcome(provider_status: str) -> Outcome | None:
    """Our status for a provider status; None for the ones we do not record."""
    status = provider_status.lower()
    if status == "sent":
        return "sent"
    if status in ("delivered", "read"):
        return "delivered"
    if status in ("undelivered", "failed"):
        return "failed"
    return None


def moves_forward(current: str, new: Outcome) -> bool:
    """May a reminder in status ``current`` take status ``new`` from a callback? The
    lifecycle's rule: only one handed over and not final, only forward."""
    return callback_moves(current, new)


Keyword = Literal["stop", "start"]


@dataclass(frozen=True)
class Reading:
    """What an inbound SMS asks for: ``keyword`` (None: an ordinary reply), and whether the
    message is only that (``bare``: "STOP", "请退订，谢谢") or says more that a collector
    should still read ("I will pay on Friday, please stop texting me")."""

    keyword: Keyword | None
    bare: bool


# Twilio blocks the number and answers by itself only when the message is exactly one of
# these, case aside: "STOP PLEASE" and "PLEASE CANCEL" are not blocked (Twilio's STOP
# filtering rules). Full-width or punctuated forms are ours to confirm.
TWILIO_OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)

# Words around a command that do not change it: politeness, greetings, and what the
# command is about (the messages). Anything else in the reply makes a command word
# (CANCEL, 取消, START ...) part of a sentence ("cancel the late fee"), not a command.
# "I want to cancel" / "我要取消" is honoured: cancelling what, if not the messages?
_FILLER = frozenset({
    "please", "pls", "plz", "kindly", "thanks", "thank", "you", "thx", "ty", "ok", "okay",
    "hi", "hello", "dear", "sir", "madam", "i", "want", "would", "like", "wish", "now",
    "all", "me", "my", "it", "this", "these", "them", "us", "the", "to", "text", "texts",
    "texting", "txt", "message", "messages", "msg", "msgs", "sms", "send", "sending",
    "reminder", "reminders", "notification", "notifications",
})  # fmt: skip
# Chinese has no spaces between words: these are cut out of a run of Han characters,
# longest first, and what is left must be the command alone.
_HAN_FILLER = sorted(
    ("请", "麻烦", "帮我", "给我", "我要", "我想", "谢谢", "谢了", "多谢", "感谢", "您好",
     "你好", "好的", "回复", "短信", "信息", "消息", "提醒", "通知", "发送", "推送", "服务",
     "重新", "一下", "了", "吧", "啊", "呀", "哦", "呢", "嗯"),
    key=len, reverse=True,
)  # fmt: skip
# Longer words that hold an opt-out word but mean something else: 退 + 订单 (return an
# order), 退 + 订金 (refund a deposit), 退 + 订货 (return ordered goods).
_NOT_OPT_OUT = ("退订单", "退订金", "退订货")
# A negation right before the word turns it round ("不退订", "不要退订", "don't stop").
# A question does not ("怎么退订？", "how do I stop these?"): asking how to opt out is
# wanting to, and C3 honours an opt-out at once. "要不退订吧" (how about opting out) and
# "不得不退订" (have to opt out) are no negations; "要不要退订" (should I?) is honoured.
_NEGATED = re.compile(
    r"(?:(?<!要)(?<!不得)不(?:要|想|用|必|需要|会)?|别|甭|勿|没有?|未|无需"
    r"|(?<![a-z0-9'])(?:don'?t|do\s+not|not|never))\s*$"
)
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Han characters, or a word of other letters and digits (inner ' or - kept:
# "don't", "non-stop" are one word each).
_TOKEN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>[^\W_{_HAN}]+(?:['-][^\W_{_HAN}]+)*)")
_Phrase = tuple[str, ...]  # ("han", "退订") or ("words", "opt", "out")


def read_reply(text: str, policy: DeliveryPolicy) -> Reading:
    """C3: does this reply opt out, opt back in, or neither?

    The text is NFKC-normalised (full-width ＴＤ, ＳＴＯＰ and ，！？ become TD, STOP and
    ,!?) and case-folded. A ``stop_words`` word opts out wherever it stands as a word:
    English on word boundaries ("Please STOP." yes; "nonstop", "Stopwatch", "STD", "TDX"
    no), Chinese inside the sentence ("请退订", "TD退订", "我要退订短信"), unless a negation
    stands right before it. ``stop_commands`` and ``start_words`` count only as the whole
    reply, give or take polite words and punctuation ("cancel please", "请取消", "START!").
    When both are there, the opt-out wins: a collections team would rather stop texting
    than keep texting someone who may have asked it to stop.
    """
    normal = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    tokens = list(_TOKEN.finditer(normal))
    rest = _leftover(tokens)
    stops = _phrases(policy.stop_words)
    if _only(rest, stops + _phrases(policy.stop_commands)):
        return Reading("stop", bare=True)
    if any(_found(normal, tokens, phrase) for phrase in stops):
        return Reading("stop", bare=False)
    if _only(rest, _phrases(policy.start_words)):
        return Reading("start", bare=True)
    return Reading(None, bare=False)


def keyword(text: str, policy: DeliveryPolicy) -> Keyword | None:
    return read_reply(text, policy).keyword


def handled_by_twilio(text: str) -> bool:
    """Has Twilio itself blocked the sender and sent its own confirmation for this text?"""
    return text.strip().upper() in TWILIO_OPT_OUT


def _key(word: str) -> str:
    return word.replace("'", "").replace("-", "")  # "opt-out" is "optout", "don't" "dont"


@lru_cache(maxsize=16)
def _phrases(words: tuple[str, ...]) -> tuple[_Phrase, ...]:
    found: list[_Phrase] = []
    for word in words:
        normal = unicodedata.normalize("NFKC", word).casefold()
        if re.search(f"[{_HAN}]", normal):
            found.append(("han", "".join(normal.split())))
        elif keys := tuple(_key(m.group()) for m in _TOKEN.finditer(normal)):
            found.append(("words", *keys))
    return tuple(found)


def _leftover(tokens: list[re.Match[str]]) -> list[tuple[str, str]]:
    """The reply's words without the fillers, each as (kind, text)."""
    rest: list[tuple[str, str]] = []
    for token in tokens:
        if token.group("word") is not None:
            if (key := _key(token.group())) not in _FILLER:
                rest.append(("words", key))
            continue
        han = token.group()
        for filler in _HAN_FILLER:
            han = han.replace(filler, "")
        if han:
            rest.append(("han", han))
    return rest


def _only(rest: list[tuple[str, str]], phrases: tuple[_Phrase, ...]) -> bool:
    """Is what is left of the reply nothing but these phrases?"""
    han = tuple(p[1] for p in phrases if p[0] == "han")
    words = [p[1:] for p in phrases if p[0] == "words"]
    i = 0
    while i < len(rest):
        kind, text = rest[i]
        if kind == "han":
            if not _concatenation(text, han):
                return False
            i += 1
            continue
        keys = tuple(k for _, k in rest[i:])
        match = next((w for w in words if keys[: len(w)] == w), None)
        if match is None:
            return False
        i += len(match)
    return bool(rest)


def _concatenation(text: str, words: tuple[str, ...]) -> bool:
    """Is ``text`` these words one after another ("TD退订", "取消订阅")? Positions reached
    are kept, so a long message costs length x words, not one try per way to split it."""
    reached = [True] + [False] * len(text)
    for i in range(len(text)):
        if reached[i]:
            for w in words:
                if w and text.startswith(w, i):
                    reached[i + len(w)] = True
    return reached[-1]


def _found(normal: str, tokens: list[re.Match[str]], phrase: _Phrase) -> bool:
    """Does the phrase stand in the reply, as a word and not negated?"""
    if phrase[0] == "han":
        word = phrase[1]
        at = normal.find(word)
        while at >= 0:
            if not _in_longer_word(normal, at, word) and not _negated(normal, at):
                return True
            at = normal.find(word, at + 1)
        return False
    wanted = phrase[1:]
    for i in range(len(tokens) - len(wanted) + 1):
        run = tokens[i : i + len(wanted)]
        if (
            all(t.group("word") is not None for t in run)
            and tuple(_key(t.group()) for t in run) == wanted
            and not _negated(normal, run[0].start())
        ):
            return True
    return False


def _negated(normal: str, at: int) -> bool:
    # Only the few characters before the word: a negation stands right there, and a long
    # message of repeated negated words costs no more than its length.
    return _NEGATED.search(normal[max(at - 24, 0) : at]) is not None


def _in_longer_word(normal: str, at: int, word: str) -> bool:
    for longer in _NOT_OPT_OUT:
        offset = longer.find(word)
        start = at - offset
        if offset >= 0 and start >= 0 and normal[start : start + len(longer)] == longer:
            return True
    return False

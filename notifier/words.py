"""The words a person reads, in zh-CN and en: one message catalogue per language
(``notifier/locale/{zh_CN,en}/LC_MESSAGES/notifier.po``, gettext's format, read with
Babel), asked by key. Pages, the CLI's tables and the unsubscribe page all ask here, so a
stage, tier, tone, step, channel, status, event or content-check reason reads the same
everywhere; codes stay in the API and in ``--json``.

A key missing in one language falls back to English, and a key missing everywhere shows
the key itself (visible, never a crash); ``tests/unit/test_words.py`` keeps both
catalogues complete.

Use ``words(locale)`` for a :class:`Words` bound to a language::

    w = words("zh-CN", stages=policy.stages)
    w("queue")            # 待审批
    w.stage("m1")         # 逾期1–30天
    w.status("unknown")   # 状态未知
    w.lint("legal_threat: '起诉': legal action is not decided for this customer")
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any, Protocol

from babel.messages.pofile import read_po

from notifier.domain.reasons import Why

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_FOLDERS = {"zh-CN": "zh_CN", "en": "en"}


def locale_of(value: str | None) -> str:
    """A supported locale for ``value`` (``zh``, ``zh_CN``, ``en-GB`` ...), else the default."""
    if not value:
        return DEFAULT_LOCALE
    if value in LOCALES:
        return value
    lowered = value.lower().replace("_", "-")
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """Every key of one language and its text, read once from the package's .po file."""
    folder = _FOLDERS[locale]
    source = files("notifier") / "locale" / folder / "LC_MESSAGES" / "notifier.po"
    with source.open("rb") as handle:
        parsed = read_po(handle, locale=folder)
    return {str(m.id): str(m.string) for m in parsed if m.id and m.string}


def text(locale: str, key: str, **values: object) -> str:
    found = catalogue(locale).get(key) if locale in _FOLDERS else None
    template = found or catalogue("en").get(key) or key
    return template.format(**values) if values else template


class StageBounds(Protocol):
    """The policy's stage bounds (``[stages]``), which the stage labels name."""

    @property
    def pre_due_days(self) -> int: ...
    @property
    def m1_max(self) -> int: ...
    @property
    def m2_max(self) -> int: ...
    @property
    def m3_max(self) -> int: ...


# How domain/lint.py words its reasons: "rule: detail". The detail worth keeping (the
# words, the date, the amount) is taken out; the sentence around it is this catalogue's.
_QUOTED_WORDS = re.compile(r"^((?:'[^']*'|\"[^\"]*\")(?:, (?:'[^']*'|\"[^\"]*\"))*): ")
_LINT_DETAIL = {
    "invisible_characters": re.compile(r"^(?P<detail>.*?): characters a reader cannot see"),
    "wrong_date": re.compile(r"^(?P<detail>\S+) is none of"),
    "wrong_amount": re.compile(r"^(?P<detail>.*?) matches no amount"),
    "opt_out_missing": re.compile(r"opt-out line ['\"](?P<detail>.*)['\"]$"),
    "sms_too_long": re.compile(r"^(?P<n>\d+) segments, at most (?P<max>\d+)"),
    "unsubscribe_missing": re.compile(r"opt-out line"),
}
# The automatic escalation's reason (domain/standing.py): "2 broken promises to pay (D21)".
_BROKEN_PROMISES = re.compile(r"^(\d+) broken promises to pay(?: \(D\d+\))?$")
# The expiry sweep's reason (sweeps/expire.py).
_NOT_APPROVED = re.compile(r"^not approved within (\d+) h after its slot$")
_WORD_RULES = ("legal_threat", "insult", "accusation", "impersonation", "third_party",
               "subject_not_neutral")  # fmt: skip


class Words:
    """The catalogue in one language, with the labels of the domain's codes."""

    def __init__(self, locale: str, stages: StageBounds | None = None) -> None:
        self.locale = locale_of(locale)
        self._stages = stages

    def __call__(self, key: str, **values: object) -> str:
        return text(self.locale, key, **values)

    def _code(self, prefix: str, code: str | None, **values: object) -> str:
        """The label of ``prefix_code``; an unknown code is shown as it is (an operator's
        own name, e.g. a cadence step added to the policy)."""
        if not code:
            return ""
        key = f"{prefix}_{code}"
        return self(key, **values) if key in catalogue("en") else code

    def stage(self, code: str | None) -> str:
        b = self._stages
        bounds: dict[str, Any] = {}
        if b is not None:
            bounds = {
                "pre_due": {"days": b.pre_due_days},
                "m1": {"hi": b.m1_max},
                "m2": {"lo": b.m1_max + 1, "hi": b.m2_max},
                "m3": {"lo": b.m2_max + 1, "hi": b.m3_max},
                "legal": {"lo": b.m3_max},
            }.get(code or "", {})
        else:
            bounds = {
                "pre_due": {"days": 3}, "m1": {"hi": 30}, "m2": {"lo": 31, "hi": 60},
                "m3": {"lo": 61, "hi": 90}, "legal": {"lo": 90},
            }.get(code or "", {})  # fmt: skip
        return self._code("stage", code, **bounds)

    def tier(self, code: str | None) -> str:
        return self._code("tier", code)

    def tone(self, code: str | None) -> str:
        return self._code("tone", code)

    def channel(self, code: str | None) -> str:
        return self._code("channel", code)

    def status(self, code: str | None) -> str:
        return self._code("st", code)

    def window(self, name: str | None) -> str:
        """A contact window of the policy (``morning``, ``evening`` ...); a window the
        operator named itself reads as named."""
        return self._code("win", name)

    def role(self, code: str | None) -> str:
        return self._code("role", code)

    def kind(self, code: str | None) -> str:
        return self._code("kind", code)

    def event(self, kind: str | None) -> str:
        return self._code("ev", kind)

    def actor(self, name: str | None) -> str:
        """Who did it: a person's login as it is, the system's own parts in words."""
        key = f"actor_{name}"
        return self(key) if name and key in catalogue("en") else (name or "")

    def promise(self, status: str | None) -> str:
        return self._code("pr", status)

    def step(self, code: str | None) -> str:
        """A cadence step (``friendly``, ``final_notice`` ...) or a fallback SMS
        (``fallback-12``: the e-mail it follows)."""
        if code and code.startswith("fallback"):
            _, _, of = code.partition("-")
            return self("cadence_fallback", id=of) if of else self("cadence_fallback_plain")
        return self._code("cadence", code)

    def days(self, days_overdue: int | None) -> str:
        """``逾期5天`` / ``5 days overdue``; before the due date ``3天后到期`` / ``due in 3
        days`` (never a negative number of days overdue)."""
        if days_overdue is None:
            return ""
        if days_overdue > 0:
            return self("days_overdue_n", n=days_overdue)
        if days_overdue == 0:
            return self("due_today")
        return self("due_in_n", n=-days_overdue)

    def reason(self, value: str | None) -> str:
        """A reason the system wrote itself (an automatic escalation's), in this language;
        anything a person typed is shown as typed."""
        if not value:
            return ""
        broken = _BROKEN_PROMISES.match(value)
        if broken is not None:
            return self("esc_broken_promises", n=int(broken.group(1)))
        expired = _NOT_APPROVED.match(value)
        if expired is not None:
            return self("reason_not_approved", hours=int(expired.group(1)))
        return value

    def why(self, reason: Why) -> str:
        """Why a rule decided as it did (``domain/reasons.py``: a tier, a flag)."""
        return self("why_" + reason.key, **dict(reason.values))

    def whys(self, reasons: Iterable[Why]) -> str:
        """Several reasons in one line, with this language's separator."""
        return self("why_sep").join(self.why(r) for r in reasons)

    def lint(self, problem: object) -> str:
        """A content-check reason (``LintProblem`` or its stored text ``rule: detail``)
        as a sentence in this language: the rule's label, with the words, date or amount
        it found. A rule this catalogue does not know reads as a general one, never as
        the English text or the rule's id."""
        raw = str(problem)
        rule, sep, detail = raw.partition(": ")
        if not sep:
            rule, detail = raw, ""
        rule = rule.strip()
        if rule in _WORD_RULES:
            found = _QUOTED_WORDS.match(detail)
            return self(f"lint_{rule}", detail=found.group(1) if found else "")
        pattern = _LINT_DETAIL.get(rule)
        if pattern is not None:
            match = pattern.search(detail)
            if match is not None:
                return self(f"lint_{rule}", **match.groupdict())
        found = _QUOTED_WORDS.match(detail)
        if found:
            return self("lint_words", detail=found.group(1))
        return self("lint_other")


def words(locale: str | None, stages: StageBounds | None = None) -> Words:
    return Words(locale_of(locale), stages)


def label(locale: str | None, kind: str, code: str | None) -> str:
    """One code's label for the CLI's tables: ``label("zh-CN", "stage", "m1")``. ``kind``
    is ``stage``, ``tier``, ``tone``, ``channel``, ``status``, ``step``, ``event``,
    ``role``, ``kind`` or ``promise``; ``days`` takes the days overdue as text."""
    w = words(locale)
    if kind == "days":
        return w.days(int(code)) if code not in (None, "") else ""
    method = getattr(w, kind, None)
    if method is None or kind.startswith("_"):
        raise ValueError(f"no labels for {kind!r}")
    result: str = method(code)
    return result

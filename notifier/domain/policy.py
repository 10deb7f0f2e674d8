"""The collection policy: every number of DOMAIN.md that an operator may change.

Loaded from ``config/notifier.toml`` by :func:`notifier.settings.load_policy` and
validated once at start; the domain functions take the parts they need as arguments.
Unknown keys are refused so that a typo in the policy file is reported, not ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Tone = Literal["friendly", "neutral", "firm", "formal"]
Channel = Literal["sms", "email", "letter", "call"]  # letter: printed, posted by hand;
# call: a task on the owning collector's call list, made by a person (issue 14)
Anchor = Literal["due", "mid_term", "settled"]
Kind = Literal["business", "individual"]
TierName = Literal["A", "B", "C"]
TIERS: tuple[TierName, ...] = ("A", "B", "C")
StageName = Literal["pre_due", "m1", "m2", "m3", "legal"]
STAGES: tuple[StageName, ...] = ("pre_due", "m1", "m2", "m3", "legal")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StagePolicy(_Strict):
    """D5: stage by days past the due date of the oldest open item."""

    pre_due_days: int = Field(3, ge=0, le=60)
    m1_max: int = Field(30, ge=1)
    m2_max: int = Field(60, ge=2)
    m3_max: int = Field(90, ge=3)

    @model_validator(mode="after")
    def _ordered(self) -> StagePolicy:
        if not self.m1_max < self.m2_max < self.m3_max:
            raise ValueError("m1_max < m2_max < m3_max must hold")
        return self


class PenaltyPolicy(_Strict):
    """D8: penalty interest = outstanding principal x daily rate x days overdue."""

    default_daily_rate: Decimal = Field(Decimal("0.0005"), ge=0, le=Decimal("0.01"))


class TierPolicy(_Strict):
    """D1: tier from the customer's own payment history."""

    lookback_months: int = Field(12, ge=1, le=60)
    # A: no late payment in the look-back, nothing overdue beyond the grace now, and
    # a relationship long enough for the record to mean something.
    a_max_late_payments: int = Field(0, ge=0)
    a_grace_days: int = Field(3, ge=0)
    a_min_relationship_days: int = Field(180, ge=0)
    # C: frequently late, or very late once, or a large overdue share.
    c_min_late_payments: int = Field(3, ge=1)
    c_min_delay_days: int = Field(60, ge=1)
    high_share: Decimal = Field(Decimal("0.20"), gt=0, le=1)
    high_risk_days_overdue: int = Field(90, ge=1)
    # A payment is late when it settles the item more than this many days after due.
    late_after_days: int = Field(0, ge=0)


class ToneMatrix(_Strict):
    """D2: tone by stage (rows) and tier (columns)."""

    pre_due: dict[TierName, Tone]
    m1: dict[TierName, Tone]
    m2: dict[TierName, Tone]
    m3: dict[TierName, Tone]
    legal: dict[TierName, Tone]

    @model_validator(mode="after")
    def _complete(self) -> ToneMatrix:
        for stage in STAGES:
            row = getattr(self, stage)
            missing = {"A", "B", "C"} - set(row)
            if missing:
                raise ValueError(f"tone.{stage} has no tone for tier {', '.join(sorted(missing))}")
        return self

    def tone(self, stage: StageName, tier: TierName) -> Tone:
        row: dict[TierName, Tone] = getattr(self, stage)
        return row[tier]


def _parse_hhmm(value: object) -> object:
    if isinstance(value, str):
        try:
            hours, minutes = value.split(":")
            return time(int(hours), int(minutes))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a time of day HH:MM") from exc
    return value


class Window(_Strict):
    """One contact window in the customer's local time (D9, D10)."""

    name: str
    start: time
    end: time
    days: Literal["working", "any"]
    # D9: e-bills at 09:00, SMS at 14:00; a step's channel picks the window.
    channels: tuple[Channel, ...] = ("sms", "email")

    _hhmm = field_validator("start", "end", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _non_empty(self) -> Window:
        if self.end <= self.start:
            raise ValueError(
                f"window {self.name!r}: end {self.end} must be after start {self.start}"
            )
        return self


class WindowPolicy(_Strict):
    business: tuple[Window, ...]
    individual: tuple[Window, ...]

    @field_validator("business", "individual")
    @classmethod
    def _some(cls, value: tuple[Window, ...]) -> tuple[Window, ...]:
        if not value:
            raise ValueError("at least one window is needed")
        return tuple(sorted(value, key=lambda w: w.start))


class AllowedHours(_Strict):
    """C1: the part of the local day in which a debtor may be contacted."""

    start: time
    end: time

    _hhmm = field_validator("start", "end", mode="before")(_parse_hhmm)

    @model_validator(mode="after")
    def _non_empty(self) -> AllowedHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class QuietHoursPolicy(_Strict):
    default: AllowedHours
    countries: dict[str, AllowedHours] = Field(default_factory=dict)

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, value: dict[str, AllowedHours]) -> dict[str, AllowedHours]:
        bad = [code for code in value if len(code) != 2 or not code.isupper()]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 country codes: {', '.join(bad)}")
        return value

    def for_country(self, country: str) -> AllowedHours:
        return self.countries.get(country.upper(), self.default)


class CallCap(_Strict):
    """C2 for calls in one country: at most ``per_day`` a day and ``per_7_days`` in any 7
    days (None: no such cap)."""

    per_day: int | None = Field(None, ge=0)
    per_7_days: int | None = Field(None, ge=0)


class CapPolicy(_Strict):
    """C2: frequency caps per debtor and channel on rolling windows."""

    sms_per_day: int = Field(1, ge=0)
    email_per_day: int = Field(1, ge=0)
    sms_per_7_days: int = Field(3, ge=0)
    email_per_7_days: int = Field(3, ge=0)
    # Calls (issue 14), per country (ISO code; others: ``call_default``): China at most 3
    # effective calls a day, the US 7 calls in 7 days (12 CFR 1006.14(b)(2)).
    call_default: CallCap = Field(default_factory=lambda: CallCap(per_day=3, per_7_days=7))
    calls: dict[str, CallCap] = Field(
        default_factory=lambda: {"CN": CallCap(per_day=3), "US": CallCap(per_7_days=7)}
    )

    def calls_for(self, country: str) -> CallCap:
        return self.calls.get(country.upper(), self.call_default)


class CalendarPolicy(_Strict):
    """D11: countries whose working days are published year by year (China's 调休).

    For these a year the calendar library has no published notice for is an error,
    never a guess; other countries' calendars are rule-based and need no notice.
    """

    published_yearly: tuple[str, ...] = ("CN",)


class FlagPolicy(_Strict):
    """D25: blacklist and suspend-new-orders thresholds."""

    blacklist_overdue_episodes: int = Field(3, ge=1)
    blacklist_unpaid_days: int = Field(365, ge=1)
    suspend_overdue_items: int = Field(2, ge=1)
    suspend_consecutive_months: int = Field(3, ge=1)


class AgingPolicy(_Strict):
    """D26: upper bounds (days overdue) of the aging buckets; above the last is open-ended."""

    bucket_bounds: tuple[int, ...] = (30, 60, 90)
    red_after_days: int = 30

    @field_validator("bucket_bounds")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or list(value) != sorted(set(value)) or value[0] < 1:
            raise ValueError("bucket_bounds must be positive and strictly increasing")
        return value


class CadenceStep(_Strict):
    """D6: one rung of the escalation ladder, counted in days past the oldest due date."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    day: int = Field(ge=-60, le=3650)
    # Tier C may start earlier (seed 003): a per-tier day replaces `day`.
    tier_day: dict[TierName, int] = Field(default_factory=dict)
    # Channels in order of preference per customer kind; the first usable one is taken.
    channels: dict[Kind, tuple[Channel, ...]]
    template: str = ""  # defaults to the step's name
    tone: Tone | None = None  # None: the stage x tier matrix (D2)
    requires_legal: bool = False  # D19: only for customers flagged legal-authorised
    # Issue 14: what `day` counts from: the oldest due date, the middle of the oldest open
    # item's credit term (issued_on..due_on), or the day the customer settled (D24).
    anchor: Anchor = "due"
    tiers: tuple[TierName, ...] = ()  # only for these tiers (empty: every tier)

    @model_validator(mode="after")
    def _channels_for_both_kinds(self) -> CadenceStep:
        for kind in ("business", "individual"):
            if not self.channels.get(kind):
                raise ValueError(f"step {self.name!r} has no channels for {kind} customers")
        calls = {tuple(chans) == ("call",) for chans in self.channels.values()}
        if len(calls) > 1 or any(
            "call" in chans and len(chans) > 1 for chans in self.channels.values()
        ):
            raise ValueError(
                f"step {self.name!r}: a call step lists `call` alone, for both kinds (a call "
                "is a task for a person, not a message with a fallback)"
            )
        return self

    @property
    def is_call(self) -> bool:
        """A call task on the collector's list, not a message (issue 14)."""
        return tuple(self.channels["business"]) == ("call",)

    @property
    def template_name(self) -> str:
        return self.template or self.name

    def day_for(self, tier: TierName) -> int:
        return self.tier_day.get(tier, self.day)


class CadencePolicy(_Strict):
    steps: tuple[CadenceStep, ...]

    @field_validator("steps")
    @classmethod
    def _unique_names(cls, steps: tuple[CadenceStep, ...]) -> tuple[CadenceStep, ...]:
        names = [s.name for s in steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"step names must be unique: {', '.join(dupes)}")
        if not steps:
            raise ValueError("at least one step is needed")
        return steps


class PlanningPolicy(_Strict):
    horizon_hours: int = Field(24, ge=1, le=24 * 14)
    tick_minutes: int = Field(15, ge=1, le=60)  # sweeps that wake in the same tick run once
    expire_after_hours: int = Field(72, ge=1)  # pending drafts this long past their slot
    sms_max_segments: int = Field(3, ge=1, le=10)
    offer_waiver_percent: int = Field(50, ge=0, le=100)
    final_days: int = Field(5, ge=3, le=30)
    broken_promises_to_escalate: int = Field(2, ge=1)  # D21
    vague_answers_to_escalate: int = Field(2, ge=1)  # D21: "正在走流程" without a date
    # Issue 14: a call nobody made by the end of its window is carried to the next one;
    # a task is offered in this many windows at most (no-answer retries count), then it
    # expires.
    call_windows_max: int = Field(3, ge=1, le=20)
    auto_approve_fallback: bool = False


class DeliveryPolicy(_Strict):
    """D12, D15-D17, C1-C3: how approved reminders go out and how reads are judged."""

    batch: int = Field(200, ge=1, le=10_000)  # reminders claimed per sweep and worker
    lease_seconds: int = Field(300, ge=10)  # a claim, or a send in flight, expires after this
    # Reminders re-checked and marked `sending` together, then sent one by one. After a
    # crash, up to this many per worker wait as `unknown` for a person; 1 is the strictest.
    group: int = Field(10, ge=1, le=200)
    retry_base_seconds: int = Field(30, ge=1)  # transient errors: base * 2^(attempt-1) + jitter
    retry_max_seconds: int = Field(900, ge=1)
    fallback_after_hours: int = Field(24, ge=1, le=24 * 14)  # D17: unread e-mail -> SMS
    machine_open_seconds: int = Field(10, ge=0)  # D16: a pixel hit this soon is a prefetch
    # D16: user agents of image proxies that fetch every pixel (not a person reading).
    prefetch_agents: tuple[str, ...] = ("GoogleImageProxy", "YahooMailProxy", "ggpht.com")
    # D16: Apple Mail Privacy Protection fetches through Apple's proxies, whose requests
    # carry no identifiable agent; opens from these networks count as machine opens.
    prefetch_networks: tuple[str, ...] = ("17.0.0.0/8",)
    # C3: SMS words that opt out wherever they stand in a reply, as a word ("请退订",
    # "Please STOP."; domain.reads.read_reply). Twilio's own list plus Chinese 退订/TD.
    stop_words: tuple[str, ...] = (
        "STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "OPT OUT", "TD", "退订", "取消订阅",
    )  # fmt: skip
    # C3: words that opt out only as the whole reply, give or take polite words ("CANCEL",
    # "请取消"): in a sentence they mean something else ("by the end of May", "取消罚息").
    stop_commands: tuple[str, ...] = ("CANCEL", "END", "QUIT", "REVOKE", "取消")
    # Opt back in, likewise only as the whole reply ("START", "yes please", "重新订阅").
    start_words: tuple[str, ...] = ("START", "UNSTOP", "YES", "订阅")


class LintPolicy(_Strict):
    """D14, C3, C4: words a message must not use, and the opt-out lines an SMS must keep."""

    legal_words: tuple[str, ...] = (
        "起诉", "诉讼", "法院", "法律程序", "法律途径", "律师", "征信", "拘留", "坐牢", "判刑",
        "强制执行", "黑名单", "支付令", "仲裁",
        "lawsuit", "sue", "court", "legal action", "legal proceedings", "lawyer",
        "attorney", "credit bureau", "credit report", "arrest", "jail", "prison",
        "garnish", "blacklist",
    )  # fmt: skip
    insult_words: tuple[str, ...] = (
        "老赖", "骗子", "无耻", "垃圾", "废物", "不要脸", "赖账",
        "deadbeat", "liar", "scum", "idiot", "stupid", "loser", "thief", "cheat",
    )  # fmt: skip
    # Accusing or talking down to the reader (D14; "你们到底什么时候付钱?" is what the
    # articles forbid): asks for a date instead.
    accusation_words: tuple[str, ...] = (
        "到底什么时候", "到底还不还", "到底付不付", "到底还要拖", "什么时候才付", "什么时候才能付",
        "为什么还不付", "为什么还没付", "为什么不付", "怎么还不付", "怎么还没付", "还不还钱",
        "一拖再拖", "故意拖欠", "恶意拖欠", "拖着不付", "不讲信用", "没有诚信", "言而无信",
        "耍赖", "赖着不还", "别想逃", "丢人", "可耻",
        "why haven't you paid", "why have you not paid", "why didn't you pay",
        "why did you not pay", "when are you going to pay", "when will you finally",
        "you still haven't paid", "you still have not paid", "no more excuses", "no excuses",
        "stop ignoring", "you ignored", "you have ignored", "refusing to pay",
        "irresponsible", "dishonest", "shameful", "shame on you",
    )  # fmt: skip
    impersonation_words: tuple[str, ...] = (
        "公安", "警察", "检察院", "法官", "政府通知",
        "police", "sheriff", "fbi", "government agency", "judge",
    )  # fmt: skip
    third_party_words: tuple[str, ...] = (
        "家人", "父母", "配偶", "同事", "朋友", "亲属", "担保人", "单位领导",
        "your family", "your employer", "your relatives", "your colleagues",
        "your neighbours", "your neighbors", "your spouse", "guarantor",
    )  # fmt: skip
    subject_words: tuple[str, ...] = (
        "欠款", "催收", "逾期", "欠债", "debt", "overdue", "collection", "delinquent",
    )  # fmt: skip
    opt_out_lines: dict[str, str] = Field(
        default_factory=lambda: {"zh-CN": "回复TD退订", "en": "Reply STOP to opt out"}
    )


class LimitsPolicy(_Strict):
    """What plausible input looks like, checked before any work is done: dates outside
    the window are refused wherever they come in (import, --at, query strings, forms);
    a promise may reach at most ``promise_max_days`` ahead (a manager may go further, up
    to ``promise_manager_max_days``); bodies are capped before they are read."""

    earliest_date: date = date(2000, 1, 1)
    latest_date: date = date(2100, 12, 31)
    promise_max_days: int = Field(90, ge=1, le=3660)
    promise_manager_max_days: int = Field(365, ge=1, le=3660)
    webhook_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    form_body_bytes: int = Field(256 * 1024, ge=1024, le=64 * 1024 * 1024)

    @model_validator(mode="after")
    def _ordered(self) -> LimitsPolicy:
        if not self.earliest_date < self.latest_date:
            raise ValueError("earliest_date < latest_date must hold")
        if self.promise_manager_max_days < self.promise_max_days:
            raise ValueError("promise_manager_max_days >= promise_max_days must hold")
        return self


class SecurityPolicy(_Strict):
    """Logins, sessions and tracking links."""

    # After this many failed logins for one account (or from one client address) within
    # ``login_window_minutes``, each further try waits base * 2^(n - free) seconds, capped.
    login_free_failures: int = Field(5, ge=1, le=100)
    login_window_minutes: int = Field(15, ge=1, le=24 * 60)
    login_delay_base_seconds: int = Field(1, ge=1, le=60)
    login_delay_max_seconds: int = Field(900, ge=1, le=24 * 3600)
    session_hours: int = Field(12, ge=1, le=24 * 30)
    # Tracking links (open pixel, click) stop recording after this many days; the click
    # still redirects to its target so that an old e-mail's payment link keeps working.
    tracking_token_days: int = Field(90, ge=1, le=3660)


class EscalationPolicy(_Strict):
    """D4: who takes over an escalated customer from its collector: the manager named for
    that collector, else the default ``manager``. With neither, the customer stays with
    its collector (the escalation event says so)."""

    manager: str | None = Field(None, min_length=1, max_length=64)
    managers: dict[str, str] = {}  # collector -> that collector's manager

    def manager_for(self, collector: str | None) -> str | None:
        if collector is not None and collector in self.managers:
            return self.managers[collector]
        return self.manager


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class WeeklyPolicy(_Strict):
    """Seed 003: the manager's week (a weekly meeting; 1 % of what a collector recovers on
    items overdue more than 90 days as a bonus). The week runs Monday to Sunday in
    ``zone``; the report goes by e-mail to the active users of ``recipients_role`` at
    ``send_hour`` on ``send_weekday`` there. Users carry no e-mail address (yet), so
    ``emails`` names each recipient's: a recipient without one is skipped and named."""

    zone: str = "Asia/Shanghai"
    incentive_rate: Decimal = Field(Decimal("0.01"), ge=0, le=Decimal("0.5"))
    incentive_after_days: int = Field(90, ge=0, le=3650)
    recipients_role: Literal["reviewer", "collector", "manager", "admin"] = "manager"
    emails: dict[str, str] = {}  # user name -> e-mail address
    send_weekday: Weekday = "monday"
    send_hour: int = Field(9, ge=0, le=23)
    oldest_items: int = Field(10, ge=1, le=200)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, e.g. Asia/Shanghai") from None
        return value

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(
            n for n, a in value.items() if a.count("@") != 1 or any(c.isspace() for c in a)
        )
        if bad:
            raise ValueError(f"not an e-mail address for: {', '.join(bad)}")
        return value


_GREETING_CHANNELS: dict[Kind, tuple[Channel, ...]] = {
    "business": ("email", "sms"), "individual": ("sms", "email"),
}  # fmt: skip


class GreetingPolicy(_Strict):
    """D24: holiday greetings to long-standing customers (``min_relationship_days`` since
    their first invoice), drafted for approval ``days_before`` the holiday's first day by
    ``calendar_country``'s official calendar; ``note_open``: a gentle line on what is
    open, if anything."""

    holidays: tuple[Literal["spring_festival", "mid_autumn"], ...] = (
        "spring_festival", "mid_autumn",
    )  # fmt: skip
    calendar_country: str = "CN"
    days_before: int = Field(3, ge=1, le=30)
    min_relationship_days: int = Field(365, ge=0)
    note_open: bool = True
    channels: dict[Kind, tuple[Channel, ...]] = Field(default_factory=lambda: _GREETING_CHANNELS)


class CreditorLines(_Strict):
    """A country's own contact line and payment portal (either may be left to the default)."""

    contact: str | None = None
    payment_url: str | None = None


class Creditor(_Strict):
    """Who the messages come from, per locale; the contact line (phone, e-mail) and the
    payment portal per country of the customer (ISO code), else the defaults: a customer
    abroad must not get a number only dialable in China or a portal of another country."""

    name: dict[str, str]
    contact: str
    # Where customers pay when an invoice carries no link of its own.
    payment_url: str = "https://pay.example.com/c/{customer_id}"
    countries: dict[str, CreditorLines] = Field(default_factory=dict)
    # The short name an SMS is signed with (【星辰供应链】), per locale; else the name.
    signature: dict[str, str] = Field(default_factory=dict)

    @field_validator("countries")
    @classmethod
    def _country_codes(cls, value: dict[str, CreditorLines]) -> dict[str, CreditorLines]:
        bad = [c for c in value if len(c) != 2 or not c.isalpha() or not c.isupper()]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 country codes: {', '.join(bad)}")
        return value

    def name_for(self, locale: str) -> str:
        return self.name.get(locale) or next(iter(self.name.values()))

    def signature_for(self, locale: str) -> str:
        return self.signature.get(locale) or self.name_for(locale)

    def contact_for(self, country: str) -> str:
        lines = self.countries.get(country.upper())
        return lines.contact if lines and lines.contact else self.contact

    def payment_url_for(self, country: str) -> str:
        lines = self.countries.get(country.upper())
        return lines.payment_url if lines and lines.payment_url else self.payment_url

    def missing_lines(self, countries: Iterable[str]) -> list[str]:
        """The countries among ``countries`` with no contact lines of their own: their
        customers get the defaults (a number and portal perhaps of another country). None
        when the policy lists no country at all (one set of lines for everyone)."""
        if not self.countries:
            return []
        return sorted({c.upper() for c in countries if c} - set(self.countries))


class LetterPolicy(_Strict):
    """Issue 15: formal letters (channel ``letter``), printed and posted by hand. The
    deadline a letter gives is counted in working days of the customer's official
    calendar from the letter's date, per cadence step (others: ``default_working_days``).
    The letterhead: the creditor's name, ``address`` and contact; ``seal_image``: a PNG
    of the company seal (公章) printed beside the signature (a path; relative paths are
    read from the working directory), none: an empty seal box to stamp by hand."""

    deadline_working_days: dict[str, int] = Field(
        default_factory=lambda: {"formal_notice": 10, "lawyer_letter": 7, "final_notice": 5}
    )
    default_working_days: int = Field(7, ge=1, le=60)
    address: dict[str, str] = Field(default_factory=dict)  # per locale
    seal_image: str | None = None
    carriers: tuple[str, ...] = ("EMS", "SF", "China Post", "UPS", "DHL", "FedEx")

    @field_validator("deadline_working_days")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(step for step, n in value.items() if not 1 <= n <= 60)
        if bad:
            raise ValueError(f"working days must be 1 to 60 for: {', '.join(bad)}")
        return value

    def working_days_for(self, step: str) -> int:
        return self.deadline_working_days.get(step, self.default_working_days)


class LegalPolicy(_Strict):
    """D19, issue 15: the legal route a manager decides after the lawyer's letter. After
    ``lawsuit_after_days`` days without payment a "prepare lawsuit" task is due; the
    payment order (支付令) is offered while the undisputed principal is below
    ``payment_order_max`` (in ``payment_order_currency``)."""

    lawyer_step: str = "lawyer_letter"
    lawsuit_after_days: int = Field(7, ge=1, le=365)
    payment_order_max: Decimal = Field(Decimal("50000"), gt=0)
    payment_order_currency: str = Field("CNY", min_length=3, max_length=3)


class RetentionPolicy(_Strict):
    """C5: how many years after a customer settled its records are kept, per country (ISO
    code; others: ``default_years``). Then the purge anonymises its personal data."""

    years: dict[str, int] = Field(default_factory=lambda: {"US": 3, "CN": 5})
    default_years: int = Field(5, ge=1, le=100)

    @field_validator("years")
    @classmethod
    def _plausible(cls, years: dict[str, int]) -> dict[str, int]:
        for country, n in years.items():
            if len(country) != 2 or not country.isalpha() or not country.isupper():
                raise ValueError(f"{country!r} is not a country code like CN or US")
            if not 1 <= n <= 100:
                raise ValueError(f"{country}: {n} years is not between 1 and 100")
        return years

    def years_for(self, country: str) -> int:
        return self.years.get(country, self.default_years)


class VoicePolicy(_Strict):
    """Issue 14: click-to-call through Twilio Voice (when the deployment turns it on, see
    NOTIFIER_TWILIO__VOICE_ENABLED). A call is recorded only when ``record`` is on and the
    customer's country is in ``record_countries`` (ISO codes). The US is not listed by
    default: several states need every party's consent. A recorded call opens with an
    announcement in the customer's language."""

    record: bool = False
    record_countries: tuple[str, ...] = ("CN", "GB")
    ring_seconds: int = Field(30, ge=5, le=120)  # how long each phone rings
    connect_minutes: int = Field(10, ge=1, le=60)  # the bridge's signed link lasts this long

    @field_validator("record_countries")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [code for code in value if len(code) != 2 or not code.isalpha() or not code.isupper()]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 country codes: {', '.join(bad)}")
        return value

    def records(self, country: str) -> bool:
        return self.record and country.upper() in self.record_countries


class Policy(_Strict):
    stages: StagePolicy = StagePolicy()
    penalty: PenaltyPolicy = PenaltyPolicy()
    tiers: TierPolicy = TierPolicy()
    tone: ToneMatrix
    windows: WindowPolicy
    quiet_hours: QuietHoursPolicy
    caps: CapPolicy = CapPolicy()
    calendar: CalendarPolicy = CalendarPolicy()
    flags: FlagPolicy = FlagPolicy()
    aging: AgingPolicy = AgingPolicy()
    cadence: CadencePolicy | None = None
    planning: PlanningPolicy = PlanningPolicy()
    delivery: DeliveryPolicy = DeliveryPolicy()
    lint: LintPolicy = LintPolicy()
    limits: LimitsPolicy = LimitsPolicy()
    security: SecurityPolicy = SecurityPolicy()
    escalation: EscalationPolicy = EscalationPolicy()
    weekly: WeeklyPolicy = WeeklyPolicy()
    creditor: Creditor = Creditor(name={"zh-CN": "notifier", "en": "notifier"}, contact="")
    retention: RetentionPolicy = RetentionPolicy()
    letters: LetterPolicy = LetterPolicy()
    legal: LegalPolicy = LegalPolicy()
    greetings: GreetingPolicy = GreetingPolicy()
    voice: VoicePolicy = VoicePolicy()

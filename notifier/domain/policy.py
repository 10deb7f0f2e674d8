"""The collection policy: every number of DOMAIN.md that an operator may change.

Loaded from ``config/notifier.toml`` by :func:`notifier.settings.load_policy` and
validated once at start; the domain functions take the parts they need as arguments.
Unknown keys are refused so that a typo in the policy file is reported, not ignored.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Tone = Literal["friendly", "neutral", "firm", "formal"]
TierName = Literal["A", "B", "C"]
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


class CapPolicy(_Strict):
    """C2: frequency caps per debtor and channel on rolling windows."""

    sms_per_day: int = Field(1, ge=0)
    email_per_day: int = Field(1, ge=0)
    sms_per_7_days: int = Field(3, ge=0)
    email_per_7_days: int = Field(3, ge=0)


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

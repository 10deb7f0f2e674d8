"""The one catalogue of words (notifier/words.py, notifier/locale/*/notifier.po): complete
in both languages, the same placeholders in each, and every code a page or the CLI shows
has a label in both."""

from __future__ import annotations

import re
from string import Formatter

import pytest

from notifier.domain.lifecycle import STATUSES
from notifier.domain.slots import windows_for
from notifier.settings import load_policy
from notifier.words import LOCALES, catalogue, label, locale_of, words
from tests.support import ROOT

POLICY = load_policy(ROOT / "config" / "notifier.toml")
WINDOWS = tuple(win.name for kind in ("business", "individual")
                for win in windows_for(kind, POLICY.windows))  # fmt: skip


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def test_every_key_is_in_both_languages_with_the_same_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    assert len(en) > 300
    for key in en:
        assert en[key].strip() and zh[key].strip(), key
        assert fields(en[key]) == fields(zh[key]), key


def test_the_chinese_texts_use_full_width_punctuation() -> None:
    for key, text in catalogue("zh-CN").items():
        outside = re.sub(r"\{[^}]*\}|[A-Za-z0-9/+.#-]+[,:;][A-Za-z0-9]", "", text)
        assert not re.search(r"[,:;()]", outside), (key, text)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_code_shown_to_a_person_has_a_label(locale: str) -> None:
    w = words(locale, POLICY.stages)
    codes = {
        "stage": ("current", "pre_due", "m1", "m2", "m3", "legal", "settled"),
        "tier": ("A", "B", "C"),
        "tone": ("friendly", "neutral", "firm", "formal"),
        "channel": ("sms", "email", "call", "letter"),
        "status": tuple(STATUSES),
        "role": ("reviewer", "collector", "manager", "admin"),
        "kind": ("business", "individual"),
        "promise": ("open", "kept", "broken", "withdrawn"),
        "step": tuple(s.name for s in POLICY.cadence.steps) + ("thank_you",),  # type: ignore[union-attr]
        "window": WINDOWS,
    }
    for kind, values in codes.items():
        for code in values:
            text = getattr(w, kind)(code)
            zh = getattr(words("zh-CN", POLICY.stages), kind)(code)
            assert text and zh != code and not zh.isascii(), (kind, code)
            assert label(locale, kind, code) == text


def test_stage_labels_follow_the_policys_bounds_and_days_never_go_negative() -> None:
    w = words("zh-CN", POLICY.stages)
    assert w.stage("m2") == "逾期31–60天"
    assert words("en", POLICY.stages).stage("legal") == "Over 90 days overdue"
    assert w.days(-17) == "17天后到期" and w.days(0) == "今天到期" and w.days(5) == "逾期5天"
    assert words("en").days(-17) == "due in 17 days"
    assert label("en", "days", "-3") == "due in 3 days"


def test_a_fallback_step_names_the_email_it_follows() -> None:
    assert words("zh-CN").step("fallback-12") == "短信补发（邮件 #12 未读）"
    assert words("en").step("fallback-12") == "SMS follow-up to unread e-mail #12"


@pytest.mark.parametrize(
    ("stored", "zh", "en"),
    [
        ("legal_threat: '起诉': legal action is not decided for this customer",
         "提及尚未决定的法律措施：'起诉'",
         "Mentions legal action that is not decided for this customer: '起诉'"),
        ("wrong_amount: ¥1,000.00 matches no amount owed", "¥1,000.00 与所欠金额都不符",
         "¥1,000.00 matches no amount owed"),
        ("wrong_date: 2026-03-09 is none of this customer's dates",
         "2026-03-09 不是该客户的任何日期", "2026-03-09 is none of this customer's dates"),
        ("sms_too_long: 4 segments, at most 3", "短信共4条，最多3条", "4 SMS segments, at most 3"),
        ("opt_out_missing: the SMS must keep the opt-out line '回复TD退订'",
         "短信必须保留退订说明“回复TD退订”", "The SMS must keep the opt-out line “回复TD退订”"),
        ("accusatory: '赖账': accusing the debtor", "措辞不当：'赖账'",
         "Wording not allowed: '赖账'"),
        ("D19", "未通过内容检查", "Breaks a content rule"),
    ],
)  # fmt: skip
def test_lint_reasons_read_in_the_viewers_language_without_rule_ids(
    stored: str, zh: str, en: str
) -> None:
    assert words("zh-CN").lint(stored) == zh
    assert words("en").lint(stored) == en


def test_unknown_locales_and_keys_fall_back_visibly() -> None:
    assert (
        locale_of("zh_CN") == "zh-CN" and locale_of("en-GB") == "en" and locale_of("fr") == "zh-CN"
    )
    assert words("en")("no_such_key") == "no_such_key"
    assert words("zh-CN").step("custom_step") == "custom_step"  # an operator's own rung
    with pytest.raises(ValueError, match="no labels"):
        label("en", "nonsense", "x")

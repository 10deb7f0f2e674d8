"""Click-to-call's rules without a database or a server (issue 14): it is off unless the
deployment turns it on, production refuses it half set up, recording follows the policy
and the customer's country, and the bridge's TwiML says exactly what the service decided."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from notifier.channels.twilio_voice import Bridge, bridge_twiml, say_twiml, voice_problems
from notifier.domain.policy import VoicePolicy
from notifier.settings import ConfigError, Settings, TwilioSettings, load_policy, load_settings
from tests.support import ROOT
from tests.unit.test_settings import production


def test_click_to_call_is_off_by_default_and_says_which_setting_turns_it_on() -> None:
    assert Settings().twilio.voice_enabled is False
    assert voice_problems(Settings().twilio) == ["NOTIFIER_TWILIO__VOICE_ENABLED is off"]
    half = TwilioSettings(voice_enabled=True, account_sid="AC1", auth_token=SecretStr("t"))
    assert voice_problems(half) == ["NOTIFIER_TWILIO__VOICE_FROM (the caller id, E.164) is missing"]


def test_production_refuses_click_to_call_without_a_caller_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(monkeypatch, TWILIO__VOICE_ENABLED="true")
    with pytest.raises(ConfigError, match="NOTIFIER_TWILIO__VOICE_FROM is needed"):
        load_settings()
    production(monkeypatch, TWILIO__VOICE_ENABLED="true", TWILIO__VOICE_FROM="+15005550006")
    assert load_settings().twilio.voice_from == "+15005550006"


def test_calls_are_recorded_only_where_policy_and_country_allow() -> None:
    shipped = load_policy(ROOT / "config" / "notifier.toml").voice
    assert shipped.records("CN") and shipped.records("gb")
    assert not shipped.records("US")  # two-party-consent states: off for the US
    assert not VoicePolicy().records("CN")  # without a [voice] section nothing is recorded
    with pytest.raises(ValidationError, match="not ISO 3166"):
        VoicePolicy(record=True, record_countries=("China",))


def bridge(**changes: object) -> Bridge:
    values: dict[str, object] = {
        "customer_number": "+8613912345678", "caller_id": "+15005550006", "ring_seconds": 25,
        "callback": "https://n.example/webhooks/twilio/voice?task=7", "record": True,
        "announce_url": "https://n.example/webhooks/twilio/voice/announce/tok",
        "collector_line": "正在为您接通客户，请稍候。", "collector_language": "zh-CN",
    }  # fmt: skip
    return Bridge(**{**values, **changes})  # type: ignore[arg-type]


def test_the_bridge_dials_the_customer_with_the_caller_id_and_records_when_decided() -> None:
    xml = bridge_twiml(bridge())
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
    assert '<Say language="zh-CN" voice="alice">正在为您接通客户，请稍候。</Say>' in xml
    assert 'callerId="+15005550006"' in xml and 'timeout="25"' in xml
    assert 'action="https://n.example/webhooks/twilio/voice?task=7"' in xml
    assert 'record="record-from-answer-dual"' in xml
    assert 'recordingStatusCallback="https://n.example/webhooks/twilio/voice?task=7"' in xml
    assert '<Number url="https://n.example/webhooks/twilio/voice/announce/tok">' in xml
    plain = bridge_twiml(bridge(record=False, announce_url=None))
    assert "record" not in plain and "<Number>+8613912345678</Number>" in plain


def test_a_refused_bridge_tells_the_collector_and_hangs_up() -> None:
    xml = say_twiml("This call cannot be connected now.", "en", hang_up=True)
    assert '<Say language="en-US" voice="alice">This call cannot' in xml and "<Hangup />" in xml

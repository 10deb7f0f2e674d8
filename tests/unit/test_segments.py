"""SMS segment counting: GSM-7 vs UCS-2, single vs concatenated parts."""

from __future__ import annotations

import pytest

from notifier.render import sms_segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    assert sms_segments("a" * length) == (segments, "GSM-7")


def test_empty_text_is_one_gsm7_segment() -> None:
    assert sms_segments("") == (1, "GSM-7")


def test_extension_characters_take_two_septets() -> None:
    assert sms_segments("€" * 80) == (1, "GSM-7")  # 160 septets
    assert sms_segments("€" * 80 + "a") == (2, "GSM-7")  # 161 septets
    assert sms_segments("a" * 159 + "^") == (2, "GSM-7")
    for char in "^{}[]~\\|€\f":
        assert sms_segments("a" * 159 + char)[0] == 2, repr(char)


def test_an_escape_pair_is_never_split_across_parts() -> None:
    # 306 septets would fit two parts, but the euro sign cannot straddle the boundary.
    assert sms_segments("a" * 152 + "€" + "a" * 152) == (3, "GSM-7")


def test_gsm7_basic_set_includes_yuan_sign_and_accented_letters() -> None:
    assert sms_segments("CN¥86,000.00 Zoé Ñ ü @ _ £ §")[1] == "GSM-7"
    assert sms_segments("Reply STOP to opt out")[1] == "GSM-7"


@pytest.mark.parametrize("char", ["ç", "’", "—", "中", "😊", "ï"])
def test_one_character_outside_gsm7_makes_the_whole_text_ucs2(char: str) -> None:
    assert sms_segments("Hello " + char) == (1, "UCS-2")


@pytest.mark.parametrize(
    ("length", "segments"),
    [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_chinese_boundaries(length: int, segments: int) -> None:
    assert sms_segments("中" * length) == (segments, "UCS-2")


def test_emoji_take_two_utf16_code_units() -> None:
    assert sms_segments("😊" * 35) == (1, "UCS-2")  # 70 code units
    assert sms_segments("中" * 69 + "😊") == (2, "UCS-2")  # 71 code units
    # 33 emoji fill 66 of 67 units; the 34th cannot be split, so 36 emoji need 2 parts.
    assert sms_segments("😊" * 36) == (2, "UCS-2")
    assert sms_segments("中" * 66 + "😊" + "中" * 66) == (3, "UCS-2")


def test_chinese_opt_out_line_is_ucs2() -> None:
    assert sms_segments("回复TD退订") == (1, "UCS-2")

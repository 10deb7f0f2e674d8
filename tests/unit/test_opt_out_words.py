"""C3: opt-out and start words the way people write them (domain.reads.read_reply)."""

from __future__ import annotations

import pytest

from notifier.domain.policy import DeliveryPolicy
from notifier.domain.reads import Reading, handled_by_twilio, keyword, read_reply

POLICY = DeliveryPolicy()


@pytest.mark.parametrize(
    "text",
    ["stop please", "Please STOP.", "STOP!!", "Stop, thanks", "ＳＴＯＰ", "ｓｔｏｐ", "ＴＤ",
     "请退订", "退订，谢谢", "退订！", "退订。", "TD退订", "回复TD", "回复ＴＤ退订", "td 谢谢",
     "我要退订短信", "退订短信", "取消订阅", "请取消", "取消，谢谢", "帮我取消一下短信提醒",
     "cancel please", "quit texting me", "End these messages", "opt out", "Opt-Out",
     "unsubscribe me", "STOP START"],
)  # fmt: skip
def test_opt_out_words_count_with_punctuation_polite_words_and_full_width_forms(
    text: str,
) -> None:
    assert keyword(text, POLICY) == "stop"


@pytest.mark.parametrize(
    "text",
    ["nonstop", "non-stop", "stopped by the bank", "Stopwatch", "STD", "TDX", "ATD", "td1",
     "unstoppable", "我要退订单", "退订金能退吗", "退订货款怎么算"],
)  # fmt: skip
def test_opt_out_words_inside_other_words_do_not_count(text: str) -> None:
    assert keyword(text, POLICY) is None


@pytest.mark.parametrize(
    "text",
    ["I will pay tomorrow, please stop calling me", "怎么退订？", "how do I stop these?",
     "我下周付款，退订", "要不退订吧", "不得不退订", "不，退订", "已经说了退订为什么还发"],
)  # fmt: skip
def test_an_opt_out_inside_a_longer_reply_or_a_question_is_honoured(text: str) -> None:
    # C3: honoured at once. A question about opting out is a wish to; a request to stop
    # calling is a request to stop contact, and SMS is the contact we control. The reply is
    # not "bare", so its text is still recorded for the collector (a promise may be in it).
    assert read_reply(text, POLICY) == Reading("stop", bare=False)


@pytest.mark.parametrize(
    "text", ["不退订", "不要退订", "我不想退订", "别退订", "不用退订，我会还款", "don't stop",
             "don’t stop", "Do not stop the reminders", "never stop"],
)  # fmt: skip
def test_a_negated_opt_out_word_is_not_an_opt_out(text: str) -> None:
    assert keyword(text, POLICY) is None


@pytest.mark.parametrize(
    "text",
    ["取消罚息可以吗", "能不能取消违约金", "cancel the late fee", "I will pay by the end of May",
     "I quit my job, cannot pay now", "我想取消订单"],
)  # fmt: skip
def test_command_words_inside_a_sentence_mean_something_else(text: str) -> None:
    assert keyword(text, POLICY) is None


@pytest.mark.parametrize(
    "text", ["START", "start please", "Start!", "ＳＴＡＲＴ", "订阅", "重新订阅", "请订阅，谢谢",
             "yes", "UNSTOP"],
)  # fmt: skip
def test_start_counts_only_as_the_whole_reply_give_or_take_polite_words(text: str) -> None:
    assert read_reply(text, POLICY) == Reading("start", bare=True)


@pytest.mark.parametrize(
    "text", ["I will start paying next week", "yes I will pay on Friday", "不订阅", "我没订阅过",
             "don't start", "取消订阅"],
)  # fmt: skip
def test_start_inside_a_sentence_does_not_resubscribe(text: str) -> None:
    assert keyword(text, POLICY) != "start"


@pytest.mark.parametrize(
    ("text", "bare"),
    [("STOP", True), ("请退订，谢谢", True), ("TD退订", True), ("我下周三付款，请退订", False)],
)
def test_a_bare_opt_out_is_only_the_command(text: str, bare: bool) -> None:
    assert read_reply(text, POLICY) == Reading("stop", bare=bare)


@pytest.mark.parametrize("text", ["", "   ", "下周三付款", "OK", "谢谢", "？？"])
def test_ordinary_replies_are_no_keyword(text: str) -> None:
    assert read_reply(text, POLICY) == Reading(None, bare=False)


def test_the_words_come_from_the_policy() -> None:
    policy = DeliveryPolicy(stop_words=("ARRET",), stop_commands=("NON",), start_words=("OUI",))
    assert keyword("Arrêt", policy) is None  # only what the policy lists, accents included
    assert keyword("ARRET svp", policy) == "stop"
    assert keyword("non", policy) == "stop" and keyword("non merci beaucoup", policy) is None
    assert keyword("STOP", policy) is None and keyword("oui", policy) == "start"


@pytest.mark.parametrize(
    ("text", "twilio"),
    [("STOP", True), (" stop\n", True), ("Cancel", True), ("STOP please", False),
     ("Please STOP.", False), ("退订", False), ("TD", False), ("ＳＴＯＰ", False)],
)  # fmt: skip
def test_twilio_answers_only_its_own_exact_words(text: str, twilio: bool) -> None:
    assert handled_by_twilio(text) is twilio


def test_a_long_message_is_read_without_blowing_up() -> None:
    # A webhook body may hold 64 KiB: splitting "取消订阅取消订阅..." two ways at every step
    # once ran out of recursion (a 500); the reading must stay linear in the length.
    assert keyword("取消订阅" * 16_000 + "吗", POLICY) == "stop"
    assert keyword("不退订" * 20_000, POLICY) is None
    assert read_reply("取消" * 30_000, POLICY) == Reading("stop", bare=True)

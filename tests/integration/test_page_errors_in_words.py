"""A refusal from a service reads, on the pages, in the reader's language (issue 13): the
error carries its catalogue key and values (domain/errors.py), the page shows the
sentence (web/errors.py in_words); the CLI and the API keep the English message."""

from __future__ import annotations

import re
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.domain.errors import Conflict, NotifierError
from notifier.services import review
from notifier.services.common import CustomerError, amount_cents
from notifier.services.users import add_user
from notifier.store.db import unit_of_work
from notifier.web.errors import in_words
from notifier.words import words
from tests.integration.test_ui_drafts import PASSWORD, T0, app, drafts  # noqa: F401  (fixtures)
from tests.support import web_login


def chinese_reviewer(engine: Engine, app: FastAPI) -> tuple[TestClient, str]:  # noqa: F811
    with unit_of_work(engine) as s:
        add_user(s, "li", "reviewer", PASSWORD, T0, locale="zh-CN")
    client = TestClient(app)
    return client, web_login(client, "li", PASSWORD, "/")


def alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found is not None, html
    return found.group(1)


def test_a_chinese_reviewer_reads_the_services_refusals_in_chinese(
    engine: Engine,
    app: FastAPI,  # noqa: F811
    drafts: dict[str, int],  # noqa: F811
) -> None:
    client, csrf = chinese_reviewer(engine, app)
    draft = drafts["C1"]
    assert client.post(f"/drafts/{draft}/approve", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303  # fmt: skip
    again = client.post(f"/drafts/{draft}/approve", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 409
    assert alert(again.text) == f"草稿{draft}的状态为“已批准”：只有待审批的草稿可以批准。"
    edit = client.post(f"/drafts/{draft}/edit", data={"csrf": csrf, "body": "新的正文"})
    assert edit.status_code == 409
    assert alert(edit.text) == f"草稿{draft}的状态为“已批准”：只有待审批的草稿可以修改。"
    for answer in (again, edit):
        shown = alert(answer.text)
        assert not re.search(r"[A-Za-z]{3,}", shown), shown  # no English word, no code


def test_the_same_refusal_stays_english_for_the_cli_and_the_api() -> None:
    try:
        amount_cents(Decimal("1.234"), "promised")
    except CustomerError as exc:
        assert str(exc) == "the promised amount 1.234 has more than two decimals"
        assert exc.detail() == str(exc)  # the API's detail
        assert in_words(exc, words("zh-CN")) == "承诺付款金额1.234的小数超过两位。"
        assert in_words(exc, words("en")) == "The promised amount 1.234 has more than two decimals."
    else:
        raise AssertionError("not refused")


def test_a_refusal_without_a_key_is_never_english_on_a_chinese_page() -> None:
    exc = Conflict("the plan changed meanwhile")
    assert in_words(exc, words("zh-CN")) == "当前无法执行：记录已变化，请刷新页面。"
    assert in_words(exc, words("en")) == "the plan changed meanwhile"
    refused = review.LintRefused(
        7, ["accusation: '到底什么时候': accusatory or contemptuous wording"]
    )
    zh = in_words(refused, words("zh-CN"))
    assert zh.startswith("草稿7未通过内容检查：含有指责或轻蔑的措辞") and "accusatory" not in zh
    wrapped = Exception(refused)  # a page's own wrapper (customers.py _Refused)
    assert in_words(wrapped, words("zh-CN")) == zh
    assert isinstance(refused, NotifierError) and "breaks the content rules" in str(refused)

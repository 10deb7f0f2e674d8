"""A customer's evidence file on the web (D18): the chain's verdict on a page, and the ZIP
(records as JSON and CSV, the PDF summary, the manifest) for managers and admins, who may
hand it to a lawyer or a court. The same code as `notifier evidence export`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from notifier.evidence.export import build
from notifier.evidence.seal import UnknownCustomer, head_of, verify
from notifier.store.db import unit_of_work
from notifier.store.models import Customer
from notifier.web.inputs import CustomerKey
from notifier.web.state import State
from notifier.web.ui.render import page
from notifier.web.ui.session import PageUser, require_role

router = APIRouter(include_in_schema=False)
# The whole record of a person, messages and addresses included: not every role.
DOWNLOADERS = frozenset({"manager", "admin"})

LABELS = {
    "zh-CN": {
        "title": "证据档案", "intact": "记录链完整：没有记录被修改或删除。",
        "broken": "记录链已断开：以下记录被修改或删除。", "events": "事件数",
        "tombstones": "按保留期限清除的事件", "head": "链尾", "breaks": "断点",
        "holds": "压缩包内含：消息原文、送达与阅读事件、付款、承诺、争议、修改、审批的 JSON 与 "
                 "CSV 原始记录，PDF 摘要和清单（含链尾与各文件 SHA-256）。",
        "download": "下载证据档案（ZIP）", "managers_only": "仅经理和管理员可下载证据档案。",
    },
    "en": {
        "title": "Evidence file",
        "intact": "The chain is intact: no record was changed or removed.",
        "broken": "The chain is broken: the records below were changed or removed.",
        "events": "Events", "tombstones": "Events tombstoned by the retention purge",
        "head": "Chain head", "breaks": "Breaks",
        "holds": "The ZIP holds the raw records as JSON and CSV (messages as sent, delivery and "
                 "read events, payments, promises, disputes, edits, approvals), a PDF summary "
                 "and a manifest with the chain's head and each file's SHA-256.",
        "download": "Download the evidence file (ZIP)",
        "managers_only": "Only managers and admins may download the evidence file.",
    },
}  # fmt: skip


def _known(state: State, customer_id: str) -> None:
    with unit_of_work(state.engine) as session:
        if session.get(Customer, customer_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(UnknownCustomer(customer_id)))


@router.get("/customers/{customer_id}/evidence", response_class=HTMLResponse)
def evidence_page(
    request: Request, state: State, user: PageUser, customer_id: CustomerKey
) -> HTMLResponse:
    _known(state, customer_id)
    verdict = verify(state.engine, state.clock(), customer_id)
    with state.engine.connect() as connection:
        head = head_of(connection, customer_id)
    labels = LABELS.get(user.locale, LABELS["zh-CN"])
    return page(request, user, "evidence.html", cid=customer_id, verdict=verdict, head=head,
                L=labels, can_download=user.role in DOWNLOADERS)  # fmt: skip


@router.get("/customers/{customer_id}/evidence.zip")
def evidence_zip(state: State, user: PageUser, customer_id: CustomerKey) -> Response:
    require_role(user, DOWNLOADERS)
    _known(state, customer_id)
    bundle = build(state.engine, state.clock(), customer_id)
    name = f"evidence-{customer_id}.zip"
    return Response(bundle.zip_bytes(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})  # fmt: skip

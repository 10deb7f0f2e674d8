"""Page texts in zh-CN and en. A key missing in one language falls back to English, and a
missing key everywhere shows the key itself (visible, never a crash)."""

from __future__ import annotations

LOCALES = ("zh-CN", "en")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "app": "notifier", "login": "Log in", "logout": "Log out", "user": "User",
        "password": "Password", "login_failed": "Wrong user name or password.",
        "queue": "Approval queue", "customers": "Customers", "reports": "Reports",
        "aging": "Aging", "funnel": "Delivery funnel", "collectors": "Collectors",
        "slot": "Slot", "today": "Today", "next": "Later", "all": "All", "stage": "Stage",
        "tier": "Tier", "channel": "Channel", "collector": "Collector", "filter": "Filter",
        "customer": "Customer", "tone": "Tone", "step": "Step", "amount": "Amount",
        "lint": "Content check", "approve": "Approve", "approve_selected": "Approve selected",
        "reject": "Reject", "edit": "Edit", "reason": "Reason", "save": "Save",
        "no_drafts": "Nothing is waiting for approval.", "local_time": "customer's time",
        "your_time": "your time", "shortcuts": "Keys: j/k move, a approve, e edit, r reject",
        "approved_n": "{n} approved.",
        "skipped_n": "{n} left pending: they break the content rules.",
        "capture_note": "Demo mode: messages go to a local capture folder, not to Twilio or SMTP.",
        "language": "Language", "forbidden": "You may not do this with your role.",
        "status": "Status", "pending_approval": "pending approval", "clean": "clean",
        "problems": "problem(s)", "csrf_failed": "The form expired. Please try again.",
    },
    "zh-CN": {
        "app": "催收提醒", "login": "登录", "logout": "退出", "user": "用户名",
        "password": "密码", "login_failed": "用户名或密码错误。",
        "queue": "待审批", "customers": "客户", "reports": "报表",
        "aging": "账龄", "funnel": "发送漏斗", "collectors": "催收专员",
        "slot": "时段", "today": "今天", "next": "之后", "all": "全部", "stage": "阶段",
        "tier": "等级", "channel": "渠道", "collector": "催收专员", "filter": "筛选",
        "customer": "客户", "tone": "语气", "step": "步骤", "amount": "金额",
        "lint": "内容检查", "approve": "批准", "approve_selected": "批准所选",
        "reject": "驳回", "edit": "编辑", "reason": "原因", "save": "保存",
        "no_drafts": "没有待审批的消息。", "local_time": "客户当地时间",
        "your_time": "您的时间", "shortcuts": "快捷键:j/k 移动,a 批准,e 编辑,r 驳回",
        "approved_n": "已批准 {n} 条。", "skipped_n": "{n} 条未批准:内容检查未通过。",
        "capture_note": "演示模式:消息写入本地文件夹,不会发往 Twilio 或邮件服务器。",
        "language": "语言", "forbidden": "您的角色无权执行此操作。",
        "status": "状态", "pending_approval": "待审批", "clean": "通过",
        "problems": "个问题", "csrf_failed": "表单已过期,请重试。",
    },
}  # fmt: skip


def translate(locale: str, key: str, **values: object) -> str:
    text = TEXTS.get(locale, {}).get(key) or TEXTS["en"].get(key) or key
    return text.format(**values) if values else text

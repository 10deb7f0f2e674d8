"""store/reminders.py is the only writer of a reminder's status and version: a search of
the package's source (its syntax trees, so comments and strings in docs do not count) finds
no other place that sets them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from notifier.domain.lifecycle import STATUSES

PACKAGE = Path(__file__).resolve().parents[2] / "notifier"
OWNERS = {PACKAGE / "store" / "reminders.py", PACKAGE / "domain" / "lifecycle.py"}
REMINDER_STATUSES = {s.value for s in STATUSES}
# `.status =` writes of other tables, by (module, function): say which table and why.
OTHER_TABLES = {
    ("sweeps/plan.py", "_settle_promises"): "payment promises: kept or broken (D21)",
}


def _names_a_reminder_status(value: ast.AST) -> bool:
    """A reminder status literal or a ``Status.X`` member anywhere in ``value``."""
    for node in ast.walk(value):
        if isinstance(node, ast.Constant) and node.value in REMINDER_STATUSES:
            return True
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("Status", "S")
            and node.attr.lower() in REMINDER_STATUSES
        ):
            return True
    return False


def _only_other_literals(value: ast.AST) -> bool:
    """``value`` is made of string literals (and conditions), none a reminder status:
    another table's status (a promise's "kept")."""
    if isinstance(value, ast.IfExp):
        return _only_other_literals(value.body) and _only_other_literals(value.orelse)
    return isinstance(value, ast.Constant) and value.value not in REMINDER_STATUSES


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module, self.function, self.found = module, "", list[str]()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def _report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.module}:{getattr(node, 'lineno', '?')} ({self.function}): {what}")

    def _assigned(self, targets: list[ast.expr], value: ast.AST, node: ast.AST) -> None:
        for target in targets:
            for t in ast.walk(target):
                if not isinstance(t, ast.Attribute):
                    continue
                if t.attr == "version":
                    self._report(node, ".version =")
                elif (
                    t.attr == "status"
                    and not _only_other_literals(value)
                    and (self.module, self.function) not in OTHER_TABLES
                ):
                    self._report(node, ".status =")

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        target = node.targets[0]
        if (
            isinstance(value, ast.Tuple)
            and len(node.targets) == 1
            and isinstance(target, ast.Tuple)
        ):
            for t, v in zip(target.elts, value.elts, strict=False):  # a, b = x, y: in pairs
                self._assigned([t], v, node)
            self.generic_visit(node)
            return
        self._assigned(node.targets, value, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned([node.target], node.value, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        values = isinstance(func, ast.Attribute) and func.attr == "values"  # update().values
        built = isinstance(func, ast.Name) and func.id == "Reminder"  # Reminder(status=...)
        for kw in node.keywords:
            if kw.arg in ("status", "version") and (values or built):
                self._report(node, f"{kw.arg}= in {'.values()' if values else 'Reminder()'}")
        if values:  # .values({"status": ...})
            for arg in node.args:
                if isinstance(arg, ast.Dict) and any(
                    isinstance(k, ast.Constant) and k.value in ("status", "version")
                    for k in arg.keys
                ):
                    self._report(node, "status/version key in .values({...})")
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if not isinstance(key, ast.Constant):
                continue
            if key.value == "status" and _names_a_reminder_status(value):
                self._report(node, f'"status": {ast.unparse(value)} in a row dict')
            if key.value == "version" and isinstance(value, ast.Constant | ast.BinOp):
                self._report(node, f'"version": {ast.unparse(value)} in a row dict')
        self.generic_visit(node)


def _writes() -> Iterator[str]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in OWNERS or "migrations" in path.parts:
            continue  # migrations are history: they create the column, never move a row
        finder = _Finder(path.relative_to(PACKAGE).as_posix())
        finder.visit(ast.parse(path.read_text(encoding="utf-8")))
        yield from finder.found


def test_no_module_but_the_store_sets_a_reminders_status_or_version() -> None:
    found = list(_writes())
    assert not found, (
        "reminder status/version written outside notifier/store/reminders.py (call one of "
        "its moves instead, or name another table's write in OTHER_TABLES):\n  "
        + "\n  ".join(found)
    )


def test_the_search_finds_each_kind_of_write_it_looks_for() -> None:
    """The finder itself: every shape of write the old code had is caught."""
    samples = {
        'r.status = "approved"': ".status =",
        'r.status, r.reason = "failed", why': ".status =",
        "r.status = new": ".status =",
        "r.version += 1": ".version =",
        'update(Reminder).values(status="expired")': "status= in .values()",
        'update(_R).values({"status": outcome})': ".values({...})",
        'rows.append({"customer_id": cid, "status": "pending_approval"})': '"status": ',
        '{"status": Status.APPROVED if auto else Status.PENDING_APPROVAL}': '"status": ',
        '{"version": 1}': '"version": 1',
    }
    for source, shape in samples.items():
        finder = _Finder("sample.py")
        finder.visit(ast.parse(source))
        assert any(shape in f for f in finder.found), source
    harmless = ('p.status = "kept" if kept else "broken"', '{"status": r.status}',
                'JSONResponse({"status": "ok"})', 'DraftFilter(status="approved")')  # fmt: skip
    for source in harmless:
        finder = _Finder("sample.py")
        finder.visit(ast.parse(source))
        assert not finder.found, source

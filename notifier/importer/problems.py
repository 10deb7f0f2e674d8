"""What is wrong with an import, cell by cell."""

from __future__ import annotations

from dataclasses import dataclass

from notifier.domain.errors import Refused

WHOLE_FILE = "(whole file)"


@dataclass(frozen=True)
class Problem:
    """One thing to fix, at a spreadsheet row (header = row 1) and a column as the file
    names it; ``str()`` is the line the user sees."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class ImportRejected(Refused):
    """The file was not imported, and nothing of it was written. ``problems`` lists every
    problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = f": {problems[0]}" if problems else ""
        super().__init__(f"{len(problems)} problem(s){first}")

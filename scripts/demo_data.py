"""Write the sample portfolio with its dates moved so that the samples' reference day
(2026-03-02, see samples/README.md) becomes today: `make demo` then shows a live portfolio
whatever the date, and the scheduler in `notifier serve` plans what is due right now.

Usage: python scripts/demo_data.py OUT_DIR [--today YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import csv
from datetime import date, timedelta
from pathlib import Path

REFERENCE = date(2026, 3, 2)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DATE_COLUMNS = {"issued_on", "due_on", "paid_on"}


def shift_file(source: Path, target: Path, days: int) -> int:
    with source.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0]) if rows else []
    for row in rows:
        for column in DATE_COLUMNS & set(row):
            if row[column]:
                row[column] = (date.fromisoformat(row[column]) + timedelta(days)).isoformat()
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    days = (args.today - REFERENCE).days
    for name in ("customers", "receivables", "payments"):
        n = shift_file(SAMPLES / f"{name}.csv", args.out / f"{name}.csv", days)
        print(f"{name}: {n} rows, dates moved by {days} days")


if __name__ == "__main__":
    main()

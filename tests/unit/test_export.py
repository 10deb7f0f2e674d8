"""CSV the product writes: OWASP's neutralisation of spreadsheet formulas."""

import csv
import io
from decimal import Decimal

import pytest

from notifier.reports.export import safe_cell, write_csv


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "  =1+1", "\n@x"],
)
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_other_text_and_our_own_numbers_are_written_as_they_are() -> None:
    assert safe_cell("上海星辰贸易有限公司") == "上海星辰贸易有限公司"
    assert safe_cell("a=b, c+d") == "a=b, c+d"
    assert safe_cell(-17) == "-17"  # days overdue of an item not yet due
    assert safe_cell(Decimal("-1000.00")) == "-1000.00"
    assert safe_cell(None) == ""


def test_write_csv_quotes_and_neutralises_every_cell() -> None:
    text = write_csv(("id", "name", "days"), [{"id": "=1", "name": 'a,"b"', "days": -3}])
    assert list(csv.reader(io.StringIO(text))) == [["id", "name", "days"], ["'=1", 'a,"b"', "-3"]]

"""From bytes to rows: detect the encoding, split the CSV, map the header to columns.

Excel in China saves CSV as GBK (a subset of GB18030); elsewhere UTF-8, often with a BOM.
Strict UTF-8 is tried first because GB18030 would also "decode" most UTF-8 bytes, into
the wrong characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from notifier.importer.problems import WHOLE_FILE, ImportRejected, Problem
from notifier.importer.schemas import Schema

UTF8_BOM = b"\xef\xbb\xbf"


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was read with."""
    if b"\x00" in raw:
        raise ImportRejected(
            [Problem(1, WHOLE_FILE, "is not a text CSV (it holds NUL bytes: UTF-16 or a "
                     "spreadsheet file?); save it as CSV UTF-8 or CSV GBK")]
        )  # fmt: skip
    encoding = "utf-8-sig" if raw.startswith(UTF8_BOM) else "utf-8"
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    mixed = mixed_encoding(raw.removeprefix(UTF8_BOM))
    if mixed:
        raise ImportRejected(mixed)
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [Problem(1, WHOLE_FILE, f"cannot be read as UTF-8 or GBK/GB18030 (bad byte at "
                     f"offset {exc.start}); save it as CSV UTF-8")]
        ) from None  # fmt: skip


_SAVE_AS_ONE = "save the whole file in one encoding (CSV UTF-8)"
# CJK ideographs and punctuation, full-width forms, general punctuation: what the Chinese
# in a UTF-8 export reads as. GBK bytes that happen to be valid UTF-8 read mostly as other
# scripts (Latin, Greek, Cyrillic, Hangul); measured on random GBK text, a cell reads as
# 2+ ideographs and nothing else about 3 times in 100,000, as 3+ about once in a million.
_CJK = ((0x2000, 0x206F), (0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))


def mixed_encoding(raw: bytes) -> list[Problem]:
    """The rows in the minority encoding of a file that is part UTF-8, part GBK (a row
    pasted from another export): one problem per row, at its first cell of that encoding.
    Empty when the file is in one encoding; the caller found it is not UTF-8 as a whole.

    Decoding it all as GB18030 would "succeed" and store the UTF-8 rows garbled, so each
    record is judged on its own. Latin-1 maps every byte to one character, so the CSV
    structure (ASCII quotes, commas, newlines, which neither UTF-8 nor GBK use inside a
    multi-byte character) is split exactly as :func:`records` will split the text, and each
    cell's bytes come back whole.
    """
    not_utf8: list[tuple[int, int]] = []  # (row, index of its first cell not UTF-8)
    utf8: list[tuple[int, int, int]] = []  # (row, its first UTF-8 cell, _evidence)
    header: list[bytes] = []
    header_row = 0
    try:
        reader = csv.reader(io.StringIO(raw.decode("latin-1"), newline=""))
        for number, cells in enumerate(reader, start=1):
            encoded = [cell.encode("latin-1") for cell in cells]
            if not header and any(cell.strip() for cell in encoded):
                header, header_row = encoded, number
            found = _judge(encoded)
            if isinstance(found, int):
                not_utf8.append((number, found))
            elif found is not None:
                utf8.append((number, *found))
    except csv.Error:
        return []  # reported when the decoded text is split
    # UTF-8 is the file's encoding when most rows read as UTF-8 text (a tie counts when
    # one of them reads as Chinese); a GBK file has a UTF-8 row only when that row reads
    # as Chinese beyond chance (3+ ideographs): short GBK cells are valid UTF-8 now and then.
    utf8 = [found for found in utf8 if found[2] >= 1]
    if not_utf8 and (
        len(utf8) > len(not_utf8)
        or (len(utf8) == len(not_utf8) and any(evidence >= 2 for *_, evidence in utf8))
    ):
        wrong, why, names = not_utf8, "is not UTF-8 (the rest of the file is)", "utf-8"
    else:
        wrong = [(row, index) for row, index, evidence in utf8 if evidence >= 3]
        why, names = "is UTF-8 (the rest of the file is GBK)", "gb18030"
    columns = [cell.decode(names, errors="replace").strip() for cell in header]
    return [
        Problem(row, columns[index] if row > header_row and index < len(columns)
                and columns[index] else WHOLE_FILE, f"{why}; {_SAVE_AS_ONE}")
        for row, index in wrong
    ]  # fmt: skip


def _judge(cells: list[bytes]) -> int | tuple[int, int] | None:
    """The index of the row's first cell that is not UTF-8; else (the index of its first
    non-ASCII cell, how surely the row reads as UTF-8: :func:`_evidence`); None for a row
    all ASCII."""
    first: int | None = None
    most = 0
    for index, cell in enumerate(cells):
        if cell.isascii():
            continue
        try:
            text = cell.decode("utf-8")
        except UnicodeDecodeError:
            return index
        if first is None:
            first = index
        most = max(most, _evidence(text))
    return None if first is None else (first, most)


def _evidence(text: str) -> int:
    """How many CJK ideographs ``text`` holds when all of it beyond ASCII is CJK; 1 for
    accented Latin letters (Müller); 0 for anything else (GBK that happens to be valid
    UTF-8 reads mostly as Armenian, Greek, Cyrillic: 元 in GBK is UTF-8 for Ԫ)."""
    wide = [ch for ch in text if not ch.isascii()]
    if all(any(lo <= ord(ch) <= hi for lo, hi in _CJK) for ch in wide):
        return sum("\u4e00" <= ch <= "\u9fff" for ch in wide)
    latin = all("\u00c0" <= ch <= "\u00ff" and ch.isalpha() for ch in wide)
    return 1 if latin else 0


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, stripped cells) for every non-blank record.

    Row numbers count records, blank ones included, so they match the row a spreadsheet
    shows even when a quoted cell spans several lines.
    """
    number = 0
    # strict: a quote left open or text after a closing quote is an error, not a cell
    # silently joined with the rest of the file or with its neighbour ("ab"c read as abc)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for number, cells in enumerate(reader, start=1):
            stripped = [cell.strip() for cell in cells]
            if any(stripped):
                yield number, stripped
    except csv.Error as exc:
        problem = Problem(number + 1, WHOLE_FILE, f"is not valid CSV: {_csv_error(exc)}")
        raise ImportRejected([problem]) from None


def _csv_error(exc: csv.Error) -> str:
    """What went wrong, in the words of someone who edits the file in a spreadsheet."""
    said = str(exc)
    if said == "unexpected end of data":
        return 'a cell opens a quote (") that is never closed'
    if said.startswith("',' expected after"):
        return 'text follows the closing quote of a cell ("ab"c); quote the whole cell'
    if said.startswith("field larger than field limit"):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    return said


@dataclass(frozen=True)
class Header:
    """Where each known column is, and how the file spells it."""

    positions: dict[str, int]  # canonical name -> cell index
    written: dict[str, str]  # canonical name -> the header as written in the file
    width: int

    def name_of(self, column: str) -> str:
        return self.written.get(column, column)


def map_header(row: int, cells: Sequence[str], schema: Schema) -> tuple[Header, list[Problem]]:
    """Map the header to the schema's columns; every unknown, doubled or missing column is
    a problem. The rows are still read with the columns that are known, so that one pass
    reports everything."""
    problems: list[Problem] = []
    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    chinese = 0
    for index, cell in enumerate(cells):
        if not cell:
            continue  # an empty header cell: values under it are reported per row
        column = schema.lookup(cell)
        if column is None:
            problems.append(
                Problem(row, cell, f"unknown column; the columns are {schema.describe()}")
            )
        elif column.name in positions:
            problems.append(Problem(row, cell, f"appears twice (also as {written[column.name]!r})"))
        else:
            positions[column.name] = index
            written[column.name] = cell
            chinese += cell != column.name and cell.lower() != column.name
    zh = chinese * 2 > len(positions)
    problems.extend(
        Problem(row, column.display(zh), f"required column is missing ({column.spellings()})")
        for column in schema.columns
        if column.required and column.name not in positions
    )
    return Header(positions, written, len(cells)), problems

"""Formal letters (issue 15): the letter's text from ``templates/letter/`` (``text.py``,
reviewed and approved like any message) and the print-ready PDF (``pdf.py``: A4, the
creditor's letterhead and seal, a CJK font embedded, page numbers)."""

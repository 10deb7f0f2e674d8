"""The evidence file (D18): the hash chain of the event log (chain.py, pure), sealing and
verifying it in the database (seal.py), and the export of one customer's records as a
ZIP of JSON and CSV with a PDF summary (export.py, summary.py)."""

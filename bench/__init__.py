"""Benchmarks (`make bench`): measured side by side with reference approaches, never by
timed assertions in tests. Generated data goes to ``bench/data/`` (git-ignored)."""

"""`make bench` still runs after a change of the product (the planner's new channels, a
renamed filter): the whole benchmark at a tiny scale, its figures written and sane. The
figures themselves are never judged here (shared machines are noisy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_the_benchmark_runs_end_to_end_at_a_tiny_scale(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "300", "--import-scale", "300",
         "--queue-runs", "3", "--deliver-messages", "0", "--naive-sample", "50",
         "--out", str(out), "--samples", str(tmp_path / "samples.md"),
         "--data", str(tmp_path / "data")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    metrics = {row["metric"] for row in results["table"]}
    assert {"plan_per_s", "true_floor_per_s", "plan_vs_true_floor", "steady_tick_s",
            "full_scan_tick_s"} <= metrics  # fmt: skip
    measured = results["measurements"]
    failed = {name: step["error"] for name, step in measured.items()
              if isinstance(step, dict) and "error" in step and name != "deliver"}  # fmt: skip
    assert not failed  # every step ran (the delivery bench is skipped here: --deliver-messages 0)
    assert measured["plan"]["drafts"] > 0
    # 1, 2 and 3 planners on PostgreSQL drafted the same tick, each run all of it
    runs = [measured["workers"][f"workers_{n}"] for n in (1, 2, 3)]
    assert len({run["drafted"] for run in runs}) == 1 and runs[0]["drafted"] > 0
    assert [len(run["split"]) for run in runs] == [1, 2, 3]
    # the floor renders the very drafts the planner stored, text for text (en-GB dates too)
    floor = results["measurements"]["true_floor"]
    assert floor["drafts"] > 0 and floor["same_text_as_plan"] == floor["drafts"]

"""The server-drawn SVG charts: one bar per value, the right colour classes, accessible
names, and every label escaped."""

from __future__ import annotations

import re
from decimal import Decimal
from xml.etree import ElementTree

from markupsafe import Markup

from notifier.domain.aging import bucket_labels, late_buckets
from notifier.domain.policy import AgingPolicy
from notifier.web.ui.charts import bar_chart, grouped_bar_chart
from notifier.web.ui.reports import bucket_class

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[tuple[str, float, str]]:
    """(classes, height, tooltip) of every bar, parsed as XML (so it is well-formed)."""
    root = ElementTree.fromstring(svg)
    found = []
    for rect in root.iter(f"{SVG}rect"):
        classes = rect.get("class", "")
        if "bar" in classes.split():
            title = rect.find(f"{SVG}title")
            found.append((classes, float(rect.get("height", "0")), title.text or ""))
    return found


def aging_series() -> list[tuple[str, Decimal, str]]:
    policy = AgingPolicy()
    late = late_buckets(policy)
    buckets = ["not_due", *bucket_labels(policy), "settled"]
    amounts = [Decimal(n) for n in ("100", "200", "300", "400", "500", "600")]
    return [(b, a, bucket_class(b, late)) for b, a in zip(buckets, amounts, strict=True)]


def test_one_bar_per_bucket_with_red_beyond_30_days_and_green_for_settled() -> None:
    svg = bar_chart(aging_series(), title="Aging")
    assert isinstance(svg, Markup)
    found = bars(str(svg))
    assert [tip.split(":")[0] for _, _, tip in found] == [
        "not_due", "0-30", "31-60", "61-90", "90+", "settled"
    ]  # fmt: skip
    assert [classes for classes, _, _ in found] == [
        "bar", "bar", "bar red", "bar red", "bar red", "bar green"
    ]  # fmt: skip
    heights = [h for _, h, _ in found]
    assert heights == sorted(heights) and heights[0] > 0  # proportional to the values
    assert heights[-1] == 240 - 22 - 34  # the largest value fills the plot


def test_the_chart_is_named_for_assistive_technology_and_lists_its_values() -> None:
    svg = str(bar_chart([("a", 1, ""), ("b", 2, "")], title="Outstanding by bucket"))
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Outstanding by bucket"
    assert root.find(f"{SVG}title").text == "Outstanding by bucket"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "a: 1; b: 2"  # type: ignore[union-attr]
    assert "<script" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # no script, no external resource


def test_labels_and_values_from_data_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    svg = str(
        bar_chart([(evil, 5, 'red" onclick="alert(1)')], title=f"T {evil}", fmt=lambda v: evil)
    )
    assert "<script>" not in svg and 'onclick="' not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg
    [(classes, _, tooltip)] = bars(svg)  # still one well-formed bar
    assert tooltip == f"{evil}: {evil}"
    assert classes == 'bar red" onclick="alert(1)'  # an attribute value, never markup


def test_zero_and_empty_series_draw_nothing_tall() -> None:
    assert [h for _, h, _ in bars(str(bar_chart([("a", 0, ""), ("b", 0, "")], title="z")))] == [
        0.0,
        0.0,
    ]
    assert bars(str(bar_chart([], title="empty"))) == []


def test_grouped_chart_has_a_bar_per_step_and_group_and_a_legend() -> None:
    steps = ("drafted", "sent", "paid")
    groups = [
        ("m1", [(s, n, f"step-{s}") for s, n in zip(steps, (10, 6, 1), strict=True)]),
        ("m2", [(s, n, f"step-{s}") for s, n in zip(steps, (4, 4, 2), strict=True)]),
    ]
    svg = str(grouped_bar_chart(groups, title="Funnel"))
    found = bars(svg)
    assert [tip for _, _, tip in found] == [
        "m1 · drafted: 10", "m1 · sent: 6", "m1 · paid: 1",
        "m2 · drafted: 4", "m2 · sent: 4", "m2 · paid: 2",
    ]  # fmt: skip
    assert found[0][0] == "bar step-drafted" and found[-1][0] == "bar step-paid"
    assert len(re.findall(r'<rect class="swatch step-', svg)) == 3

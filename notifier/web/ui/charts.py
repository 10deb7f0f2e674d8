"""Bar charts as inline SVG, built on the server: no script, no external resource.

Every chart is an ``<svg role="img">`` with an ``aria-label`` and a ``<title>`` naming it
and a ``<desc>`` listing every value, and every bar carries its own ``<title>`` (a
tooltip); the pages also show the same numbers in a table. Labels come from data, so each
one is escaped here (``html.escape``) and the result is marked safe only after that.
Colours are CSS classes (``.bar``, ``.bar.red``, ``.bar.green``, ... in ``app.css``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

Number = int | float | Decimal
Bar = tuple[str, Number, str]  # label, value, CSS class ("" for the default colour)
Group = tuple[str, Sequence[Bar]]  # a group label and its bars, same series in each group

TOP = 22  # room for the value over the tallest bar
BOTTOM = 34  # room for the labels under the bars
LEGEND = 22
SIDE = 8


def _plain(value: Number) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{Decimal(str(value)):,.2f}"


def _n(value: float) -> str:
    """A coordinate: short, and with a dot whatever the locale."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _classes(css: str, base: str = "bar") -> str:
    return escape(" ".join([base, *css.split()]), quote=True)


def _frame(title: str, width: int, height: int, description: str, body: list[str]) -> Markup:
    label = escape(title, quote=True)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{label}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{label}</title><desc>{escape(description)}</desc>" + "".join(body) + "</svg>"
    )
    return Markup(svg)  # safe: every piece of data above went through escape()


def _bar(x: float, width: float, value: Number, top: float, plot: float, scale: float,
         label: str, css: str, shown: str) -> list[str]:  # fmt: skip
    h = float(value) * scale if scale else 0.0
    y = top + plot - h
    text = escape(f"{label}: {shown}")
    return [
        f'<rect class="{_classes(css)}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
        f'height="{_n(h)}"><title>{text}</title></rect>',
        f'<text class="value" x="{_n(x + width / 2)}" y="{_n(y - 4)}" '
        f'text-anchor="middle">{escape(shown)}</text>',
    ]


def bar_chart(
    series: Sequence[Bar],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    fmt: Callable[[Number], str] = _plain,
) -> Markup:
    """One bar per ``(label, value, css_class)``, in the order given; ``fmt`` writes the
    value shown over each bar. Negative values are drawn as zero."""
    plot = height - TOP - BOTTOM
    top_value = max((float(v) for _, v, _ in series), default=0.0)
    scale = plot / top_value if top_value > 0 else 0.0
    slot = (width - 2 * SIDE) / max(len(series), 1)
    body = [f'<line class="axis" x1="{SIDE}" y1="{TOP + plot}" x2="{width - SIDE}" '
            f'y2="{TOP + plot}"/>']  # fmt: skip
    for i, (label, value, css) in enumerate(series):
        x = SIDE + i * slot + slot * 0.15
        shown = fmt(value)
        body += _bar(x, slot * 0.7, max(value, 0), TOP, plot, scale, label, css, shown)
        body.append(
            f'<text class="label" x="{_n(x + slot * 0.35)}" y="{_n(TOP + plot + 16)}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    description = "; ".join(f"{label}: {fmt(value)}" for label, value, _ in series)
    return _frame(title, width, height, description, body)


def _text_width(text: str) -> float:
    """A rough width at the charts' 11 px font: CJK characters are about twice as wide."""
    return sum(11.0 if ord(ch) >= 0x2E80 else 6.5 for ch in text)


def _legend(series: Sequence[Bar], width: int) -> tuple[list[str], int]:
    """Swatch and label of each series, wrapped onto as many rows as the width needs."""
    body: list[str] = []
    x, row = float(SIDE), 0
    for label, _, css in series:
        need = 14 + _text_width(label) + 12
        if x + need > width - SIDE and x > SIDE:
            x, row = float(SIDE), row + 1
        y = 4 + row * LEGEND
        body.append(
            f'<rect class="{_classes(css, "swatch")}" x="{_n(x)}" y="{y}" width="10" '
            f'height="10"/><text class="legend" x="{_n(x + 14)}" y="{y + 9}">'
            f"{escape(label)}</text>"
        )
        x += need
    return body, row + 1 if series else 0


def grouped_bar_chart(
    groups: Sequence[Group],
    *,
    title: str,
    width: int = 720,
    height: int = 280,
    fmt: Callable[[Number], str] = _plain,
) -> Markup:
    """Groups of bars side by side (e.g. the funnel steps of each stage), with a legend
    of the first group's series labels and classes."""
    legend, rows = _legend(list(groups[0][1]) if groups else [], width)
    top = TOP + LEGEND * rows
    plot = height - top - BOTTOM
    top_value = max((float(v) for _, bars in groups for _, v, _ in bars), default=0.0)
    scale = plot / top_value if top_value > 0 else 0.0
    slot = (width - 2 * SIDE) / max(len(groups), 1)
    body = legend
    body.append(f'<line class="axis" x1="{SIDE}" y1="{top + plot}" x2="{width - SIDE}" '
                f'y2="{top + plot}"/>')  # fmt: skip
    parts: list[str] = []
    for g, (group, bars) in enumerate(groups):
        inner = slot * 0.85 / max(len(bars), 1)
        start = SIDE + g * slot + slot * 0.075
        for b, (label, value, css) in enumerate(bars):
            shown = fmt(value)
            body += _bar(start + b * inner, inner * 0.9, max(value, 0), top, plot, scale,
                         f"{group} · {label}", css, shown)  # fmt: skip
        body.append(
            f'<text class="label" x="{_n(SIDE + g * slot + slot / 2)}" '
            f'y="{_n(top + plot + 16)}" text-anchor="middle">{escape(group)}</text>'
        )
        parts.append(f"{group}: " + ", ".join(f"{label} {fmt(value)}" for label, value, _ in bars))
    return _frame(title, width, height, "; ".join(parts), body)

"""Charts of the console, drawn on the server as SVG (no script): a value per month with its
target as a dashed line, and bars against a target each. Every chart has a title, axes with
ticks and units, a legend, and its figures in a table for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

# (LEFT holds a tick such as "100%" at the larger size a phone's width draws it: console.css)
WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 560, 220, 58, 12, 36


@dataclass(frozen=True, slots=True)
class Series:
    title: str
    unit: str
    labels: list[str]
    # None: nothing to measure that month (no one to count).
    values: list[Decimal | None]
    target: Decimal | None
    # Why a chart with no value at all is empty (what there was nothing of to count).
    empty: str = "nothing to count in these months"


def _top(series: Series) -> Decimal:
    """A round axis maximum above every value and the target."""
    highest = max([v for v in series.values if v is not None] + [series.target or Decimal(0)])
    for top in (Decimal(10), Decimal(25), Decimal(50), Decimal(100)):
        if highest <= top:
            return top
    step = Decimal(100)
    while step < highest:
        step *= 2
    return step


def _y(value: Decimal, top: Decimal) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * float(1 - value / top)


def _axes(series: Series, top: Decimal) -> list[str]:
    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - 8}" '
        f'y2="{HEIGHT - BOTTOM}"/>',
    ]
    for fraction in (0, Decimal("0.5"), 1):
        tick = top * fraction
        y = _y(tick, top)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{_tick(tick)}{escape(series.unit)}</text>")  # fmt: skip
    if series.target is not None:
        y = _y(series.target, top)
        parts.append(f'<line class="target" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" '
                     f'y2="{y:.1f}"/>')  # fmt: skip
    return parts


def _tick(value: Decimal) -> str:
    """An axis figure without trailing zeros: 50, 12.5, 6400."""
    return format(value.normalize(), "f") if value else "0"


def _x(index: int, count: int) -> float:
    return LEFT + 24 + (WIDTH - LEFT - 60) * (index / max(count - 1, 1))


def _frame(series: Series, parts: list[str], description: str, targets: bool = False) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{escape(label)}</th><td>"
        f"{'—' if value is None else f'{value}{escape(series.unit)}'}</td></tr>"
        for label, value in zip(series.labels, series.values, strict=True)
    )
    target = "" if series.target is None else f"; target {series.target}{escape(series.unit)}"
    legend = '<span class="legend"><span class="key measured"></span> measured</span>' + (
        ""
        if series.target is None and not targets
        else ' <span class="legend"><span class="key target"></span> target</span>'
    )
    note = (
        f'<p class="empty">No data yet: {escape(series.empty)}.</p>'
        if all(value is None for value in series.values)
        else ""
    )
    return f"""<figure class="chart">
<figcaption><strong>{escape(series.title)}</strong>{escape(target)}. {legend}</figcaption>{note}
<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(description)}">
{"".join(parts)}</svg>
<details><summary>Figures of {escape(series.title)}</summary>
<table><thead><tr><th scope="col">When</th><th scope="col">{escape(series.title)}</th></tr></thead>
<tbody>{rows}</tbody></table></details>
</figure>"""


def line_chart(series: Series) -> str:
    """One value per month, joined by a line; months without a value leave a gap."""
    top = _top(series)
    parts = _axes(series, top)
    points: list[str] = []
    count = len(series.labels)
    for index, (label, value) in enumerate(zip(series.labels, series.values, strict=True)):
        x = _x(index, count)
        if (count - 1 - index) % 2 == 0:  # every other month, the last one included
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
        if value is None:
            if len(points) > 1:
                parts.append(f'<polyline class="measured" points="{" ".join(points)}"/>')
            points = []
            continue
        y = _y(value, top)
        points.append(f"{x:.1f},{y:.1f}")
        tip = f"{escape(label)}: {value}{escape(series.unit)}"
        parts.append(f'<circle class="measured" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                     f"<title>{tip}</title></circle>")  # fmt: skip
    if len(points) > 1:
        parts.append(f'<polyline class="measured" points="{" ".join(points)}"/>')
    description = (f"{series.title} per month, {series.labels[0]} to {series.labels[-1]}"
                   if series.labels else series.title)  # fmt: skip
    return _frame(series, parts, description)


def bar_chart(series: Series, targets: list[Decimal]) -> str:
    """One bar per label, each with its own target marked across it."""
    top = _top(Series(series.title, series.unit, series.labels, series.values,
                      max(targets, default=None)))  # fmt: skip
    parts = _axes(Series(series.title, series.unit, series.labels, series.values, None), top)
    count = len(series.labels)
    band = (WIDTH - LEFT - 16) / max(count, 1)
    for index, (label, value, target) in enumerate(
        zip(series.labels, series.values, targets, strict=True)
    ):
        x = LEFT + 8 + band * index
        if value is not None:
            y = _y(value, top)
            parts.append(f'<rect class="measured" x="{x:.1f}" y="{y:.1f}" width="{band * 0.6:.1f}" '
                         f'height="{HEIGHT - BOTTOM - y:.1f}"><title>{escape(label)}: {value}'
                         f"{escape(series.unit)}</title></rect>")  # fmt: skip
        ty = _y(target, top)
        parts.append(f'<line class="target" x1="{x - 4:.1f}" y1="{ty:.1f}" '
                     f'x2="{x + band * 0.6 + 4:.1f}" y2="{ty:.1f}"/>'
                     f'<text class="tick" x="{x + band * 0.3:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(label)}</text>')  # fmt: skip
    return _frame(Series(series.title, series.unit, series.labels, series.values, None), parts,
                  f"{series.title}: " + ", ".join(
                      f"{label} {'—' if value is None else value}{series.unit} (target {target}"
                      f"{series.unit})"
                      for label, value, target in zip(series.labels, series.values, targets,
                                                      strict=True)), targets=True)  # fmt: skip

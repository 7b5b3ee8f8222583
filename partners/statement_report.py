"""Statement exports: CSV of the lines, CSV of the transfers behind them, and a printable HTML
report (summary, lines, a chart of daily points volume as inline SVG). Pure functions of a
computed statement: the numbers are never recomputed here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from html import escape
from typing import Any

from partners.settlement import DailyActivity, Statement

LINE_LABELS = {
    "ISSUANCE": "Points issued for purchases at the partner",
    "REDEMPTION": "Points redeemed at the partner",
    "REDEMPTION_COMMISSION": "Redemption commission",
    "OUTBOUND_EXCHANGE": "Outbound exchanges (partner units)",
    "OUTBOUND_COMMISSION": "Outbound exchange commission",
    "INBOUND_EXCHANGE": "Inbound exchanges (points)",
    "INBOUND_COMMISSION": "Inbound exchange commission",
    "PLATFORM_FEE": "Platform fee (days in force x fee per day)",
    "API_TRANSACTIONS": "API transactions",
    "UNPRICED": "Events no rate card prices (not billed; the month cannot close)",
    "FUNDED_DISCOUNTS": "Discounts of coupons the partner funds",
}
LINE_COLUMNS = ["position", "kind", "description", "adjusts_period", "payer", "quantity",
                "unit_rate", "commission_percent", "amount", "currency", "transfers",
                "rate_card_id"]  # fmt: skip
# The charted base lines: what a day adds, what it takes back, and the unit of both.
CHARTED = {
    "ISSUANCE": ("Points issued", "issued", "refunded", "points"),
    "REDEMPTION": ("Points redeemed", "redeemed", "cancelled", "points"),
    "OUTBOUND_EXCHANGE": ("Outbound exchanges", "sent", "reversed", "partner units"),
    "INBOUND_EXCHANGE": ("Inbound exchanges", "received", "reversed", "points"),
}


def describe(kind: str, adjusts_period: str | None) -> str:
    label = LINE_LABELS.get(kind, kind)
    return f"Adjustment for {adjusts_period}: {label}" if adjusts_period else label


def lines_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LINE_COLUMNS)
    for n, line in enumerate(statement.lines, 1):
        writer.writerow([n, line.kind.value, describe(line.kind.value, line.adjusts_period),
                         line.adjusts_period or "", line.payer.value, line.quantity,
                         line.unit_rate, _percent(line.commission_percent), line.amount,
                         statement.currency, line.transfer_count, line.card_id or ""])  # fmt: skip
    for label, value in (
        ("payable_by_partner", statement.payable_by_partner),
        ("payable_by_program", statement.payable_by_program),
        ("net", statement.net),
    ):
        writer.writerow(["", "TOTAL", label, "", "", "", "", "", value, statement.currency, "",
                         ""])  # fmt: skip
    return out.getvalue()


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value}%"


def transfers_csv(rows: Iterable[Any]) -> Iterator[str]:
    """The drill-down, streamed: one transfer per row with its line and quantity."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "adjusts_period", "transfer_id", "created_at", "quantity"])
    for row in rows:
        writer.writerow([row.kind, row.adjusts_period or "", row.transfer_id,
                         row.created_at.isoformat(), row.quantity])  # fmt: skip
        if out.tell() > 64_000:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _scale(top: int) -> int:
    """A round axis maximum at or above `top` (1, 2 or 5 x a power of ten)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= top:
                return factor * step
        step *= 10


def _axes(left: int, width: int, plot_h: int, up: int, down: int, down_h: int) -> list[str]:
    """A panel's axes, grid lines and value ticks (the zero line at 10 + plot_h)."""
    zero = 10 + plot_h
    parts = [
        f'<line class=axis x1="{left}" y1="{zero}" x2="{left + width}" y2="{zero}"/>',
        f'<line class=axis x1="{left}" y1="10" x2="{left}" y2="{zero + down_h}"/>',
    ]
    for value in sorted({up // 2, up} - {0}):
        y = zero - plot_h * value / up
        parts.append(
            f'<line class=grid x1="{left}" y1="{y:.1f}" x2="{left + width}" '
            f'y2="{y:.1f}"/><text class=tick x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{value:,}</text>'
        )
    parts.append(f'<text class=tick x="{left - 6}" y="{zero + 4}" text-anchor="end">0</text>')
    if down_h >= 14:  # room for its own tick label below the axis
        parts.append(
            f'<text class=tick x="{left - 6}" y="{zero + down_h + 4}" '
            f'text-anchor="end">-{down:,}</text>'
        )
    return parts


def _panel(kind: str, activity: DailyActivity, line_quantity: Decimal | None) -> str:
    """One base line's days as a bar chart with axes, ticks, units and a legend: what each day
    added above the axis, what it took back (refunds, cancellations) below it, and the sum
    that makes the line's quantity."""
    title, added_label, taken_label, unit = CHARTED[kind]
    added = activity.added.get(kind, [0] * len(activity.days))
    taken = activity.taken_back.get(kind, [0] * len(activity.days))
    # One scale above and below the axis, so refunds look as large as they are.
    up = _scale(max(added + taken, default=0) or 1)
    down = _scale(max(taken)) if any(taken) else 0
    left, width, plot_h, axis_gap = 64, 640, 150, 16
    down_h = plot_h * down // up
    height = plot_h + down_h + 40
    zero = 10 + plot_h
    step = width / max(len(activity.days), 1)
    parts = _axes(left, width, plot_h, up, down, down_h)
    for i, day in enumerate(activity.days):
        x = left + i * step + 1
        if added[i]:
            h = plot_h * added[i] / up
            parts.append(
                f'<rect class=added x="{x:.1f}" y="{zero - h:.1f}" '
                f'width="{step - 2:.1f}" height="{h:.1f}"><title>{day}: '
                f"{added[i]:,} {unit} {added_label}</title></rect>"
            )
        if taken[i]:
            h = plot_h * taken[i] / up
            parts.append(
                f'<rect class=taken x="{x:.1f}" y="{zero}" width="{step - 2:.1f}" '
                f'height="{h:.1f}"><title>{day}: {taken[i]:,} {unit} {taken_label}'
                f"</title></rect>"
            )
        number = int(day[-2:])
        if number == 1 or number % 5 == 0:
            parts.append(
                f'<text class=tick x="{x + step / 2:.1f}" '
                f'y="{zero + down_h + axis_gap}" text-anchor="middle">{number}</text>'
            )
    month = activity.days[0][:7] if activity.days else ""
    parts.append(f'<text class=unit x="{left + width / 2}" y="{height - 4}" '
                 f'text-anchor="middle">day of {month}</text><text class=unit '
                 f'transform="translate(12 {10 + plot_h / 2}) rotate(-90)" '
                 f'text-anchor="middle">{unit}</text>')  # fmt: skip
    total_added, total_taken = sum(added), sum(taken)
    line = "" if line_quantity is None else f" = {line_quantity:,} {unit} on the line"
    return f"""<figure>
<figcaption><strong>{title}</strong> per day ({unit}):
<span class="key added"></span> {added_label} {total_added:,}
<span class="key taken"></span> {taken_label} {total_taken:,}; net
{total_added - total_taken:,}{line}.</figcaption>
<svg viewBox="0 0 {left + width + 8} {height}" width="100%" role="img"
aria-label="{title} per day in {unit}">{"".join(parts)}</svg>
</figure>"""


# How the charts look, in the report and in the console's statement page.
CHART_CSS = """
figure { margin: 1.5em 0; break-inside: avoid; }
svg { max-width: 720px; display: block; }
.axis { stroke: #222; } .grid { stroke: #ccc; stroke-dasharray: 2 3; }
.tick, .unit { font-size: 11px; fill: #222; }
.added { fill: #3b6ea5; } .taken { fill: #c0504d; }
.key { display: inline-block; width: 10px; height: 10px; margin-left: .5em; }
.key.added { background: #3b6ea5; } .key.taken { background: #c0504d; }
"""

# The stand-alone report's styles (its one <style> element; the console's Content-Security-Policy
# allows exactly this text and CHART_CSS by their hashes: gateway.console.headers).
REPORT_CSS = (
    """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
"""
    + CHART_CSS
    + """* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media print { body { margin: 0; } }
"""
)


def charts_html(statement: Statement, activity: DailyActivity) -> str:
    """The month's activity per day, one labelled panel per base line, and a note on the
    adjustment lines (listed, not charted)."""
    own = {line.kind.value: line.quantity for line in statement.lines
           if line.adjusts_period is None}  # fmt: skip
    charts = (
        "".join(
            _panel(kind, activity, own.get(kind))
            for kind in CHARTED
            if kind in own or kind in activity.added or kind in activity.taken_back
        )
        or "<p>No points moved at this partner in the month.</p>"
    )
    adjusted = sorted({line.adjusts_period for line in statement.lines if line.adjusts_period})
    adjustments = (
        f"<p>Adjustment lines bill late events of {', '.join(adjusted)}; they are listed above "
        "and not charted.</p>" if adjusted else ""
    )  # fmt: skip
    return charts + adjustments


def html_report(statement: Statement, partner: Any, activity: DailyActivity) -> str:
    rows = "".join(
        f"<tr><td>{escape(describe(line.kind.value, line.adjusts_period))}</td>"
        f"<td>{line.payer.value.title()}</td><td class=n>{line.quantity:,}</td>"
        f"<td class=n>{line.unit_rate}</td><td class=n>{_percent(line.commission_percent)}</td>"
        f"<td class=n>{line.amount:,}</td></tr>"
        for line in statement.lines
    )
    owes = "The partner pays the program" if statement.net >= 0 else "The program pays the partner"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Statement {escape(partner.code)} {statement.period}</title>
<style>{REPORT_CSS}</style></head><body>
<h1>Settlement statement</h1>
<p><strong>{escape(partner.name)}</strong> ({escape(partner.code)}), {statement.period}
({escape(partner.timezone)}), {statement.status.value}; amounts in {statement.currency}.</p>
<table>
<tr><th>Payable by the partner</th><td class=n>{statement.payable_by_partner:,}</td></tr>
<tr><th>Payable by the program</th><td class=n>{statement.payable_by_program:,}</td></tr>
<tr><th>{owes}</th><td class=n>{abs(statement.net):,}</td></tr>
</table>
<h2>Lines</h2>
<table><tr><th>Line</th><th>Paid by</th><th class=n>Quantity</th><th class=n>Unit rate</th>
<th class=n>Commission</th><th class=n>Amount ({statement.currency})</th></tr>{rows}</table>
<h2>Activity per day ({escape(partner.timezone)})</h2>
{charts_html(statement, activity)}
<p><small>Inputs hash {statement.inputs_hash}</small></p>
</body></html>
"""

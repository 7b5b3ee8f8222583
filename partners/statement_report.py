"""Statement exports: CSV of the lines, CSV of the transfers behind them, and a printable HTML
report (summary, lines, a chart of daily points volume as inline SVG). Pure functions of a
computed statement: the numbers are never recomputed here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from html import escape
from typing import Any

from partners.settlement import Statement

LINE_LABELS = {
    "ISSUANCE": "Points issued for purchases at the partner",
    "REDEMPTION": "Points redeemed at the partner",
    "REDEMPTION_COMMISSION": "Redemption commission",
    "OUTBOUND_EXCHANGE": "Outbound exchanges (partner units)",
    "OUTBOUND_COMMISSION": "Outbound exchange commission",
    "INBOUND_EXCHANGE": "Inbound exchanges (points)",
    "INBOUND_COMMISSION": "Inbound exchange commission",
    "PLATFORM_FEE": "Platform fee (monthly)",
    "API_TRANSACTIONS": "API transactions",
}
LINE_COLUMNS = ["position", "kind", "description", "adjusts_period", "payer", "quantity",
                "unit_rate", "amount", "currency", "transfers", "rate_card_id"]  # fmt: skip


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
                         line.unit_rate, line.amount, statement.currency, line.transfer_count,
                         line.card_id or ""])  # fmt: skip
    for label, value in (
        ("payable_by_partner", statement.payable_by_partner),
        ("payable_by_program", statement.payable_by_program),
        ("net", statement.net),
    ):
        writer.writerow(["", "TOTAL", label, "", "", "", "", value, statement.currency, "", ""])
    return out.getvalue()


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


def _chart(days: list[tuple[str, int]]) -> str:
    width, height, gap = 720, 160, 2
    top = max((points for _, points in days), default=0) or 1
    bar = width / max(len(days), 1)
    bars = []
    for i, (day, points) in enumerate(days):
        h = round(points / top * (height - 20))
        bars.append(
            f'<rect x="{i * bar:.1f}" y="{height - h}" width="{bar - gap:.1f}" height="{h}">'
            f"<title>{escape(day)}: {points} points</title></rect>"
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="Daily points volume">{"".join(bars)}</svg>'
    )


def html_report(statement: Statement, partner: Any, days: list[tuple[str, int]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(describe(line.kind.value, line.adjusts_period))}</td>"
        f"<td>{line.payer.value.title()}</td><td class=n>{line.quantity}</td>"
        f"<td class=n>{line.unit_rate}</td><td class=n>{line.amount}</td></tr>"
        for line in statement.lines
    )
    owes = "The partner pays the program" if statement.net >= 0 else "The program pays the partner"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Statement {escape(partner.code)} {statement.period}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }}
.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
rect {{ fill: #3b6ea5; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>Settlement statement</h1>
<p><strong>{escape(partner.name)}</strong> ({escape(partner.code)}), {statement.period}
({escape(partner.timezone)}), {statement.status.value}; amounts in {statement.currency}.</p>
<table>
<tr><th>Payable by the partner</th><td class=n>{statement.payable_by_partner}</td></tr>
<tr><th>Payable by the program</th><td class=n>{statement.payable_by_program}</td></tr>
<tr><th>{owes}</th><td class=n>{abs(statement.net)}</td></tr>
</table>
<h2>Lines</h2>
<table><tr><th>Line</th><th>Paid by</th><th class=n>Quantity</th><th class=n>Unit rate</th>
<th class=n>Amount</th></tr>{rows}</table>
<h2>Daily points volume</h2>
{_chart(days)}
<p><small>Inputs hash {statement.inputs_hash}</small></p>
</body></html>
"""

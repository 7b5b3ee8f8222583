"""The console's KPI dashboard: each program KPI per month over the last 12 months against its
target, and the tier mix now (server-drawn SVG with the figures in a table)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.responses import Response

import gateway.console.charts as charts
from auth.access import Need
from gateway.console.visit import Page, Visit
from loyalty.promotions import metric
from partners.settlement import Period

# What a KPI counts when it has nothing to count (its denominator), for an empty chart's note.
NOTHING_TO_COUNT = {
    "activation": "no member enrolled in these months",
    "win-back": "no win-back coupon was issued in these months",
    "retention": "no retention coupon was issued in these months",
    "referred share": "no member enrolled in these months",
    "diamond target attainment": "no member was an active DIAMOND member",
    "member coverage": "no member was active",
    "high-tier retention": "no member was GOLD or DIAMOND when a month started",
}


async def kpis(visit: Visit) -> Response:
    """The program's KPIs per month over the last 12 months (the current one so far), each
    against its target; the tier mix as it is now."""
    program = visit.program
    zone = ZoneInfo(program.timezone)
    month = Period.containing(visit.now, zone)
    months = [month]
    while len(months) < 12:
        months.insert(0, months[0].preceding())
    measured = []
    for period in months:
        start, end = period.bounds(zone)
        measured.append(await metric.program_metrics(visit.db, program, start=start,
                                                     end=min(end, visit.now)))  # fmt: skip
    labels = [str(period) for period in months]
    rates = [
        charts.Series(rate.name.capitalize(), "%", labels,
                      [m.rates[index].percent for m in measured], rate.target,
                      NOTHING_TO_COUNT.get(rate.name, "nothing to count in these months"))
        for index, rate in enumerate(measured[-1].rates)
    ]  # fmt: skip
    lift = charts.Series("Repurchase lift with a coupon", "%", labels,
                         [m.repurchase_lift for m in measured],
                         measured[-1].repurchase_lift_target,
                         "no purchases both with and without a next-purchase coupon")  # fmt: skip
    value = charts.Series(f"Lifetime value per member ({program.currency})", "",
                          labels, [m.lifetime_value for m in measured],
                          measured[-1].lifetime_value_target, "no member was active")  # fmt: skip
    mix = measured[-1].tier_mix
    tier_chart = charts.bar_chart(
        charts.Series("Tier mix of active members now", "%", [tier for tier, *_ in mix],
                      [percent for _, _, percent, _ in mix], None, "no member is active"),
        [target for *_, target in mix],
    )  # fmt: skip
    shown = [charts.line_chart(series) for series in (*rates, lift, value)] + [tier_chart]
    return visit.page("kpis.html", title="Program KPIs", charts=[Markup(c) for c in shown],
                      first=labels[0], last=labels[-1], zone=program.timezone)  # fmt: skip


ROUTES: list[Page] = [Page("/kpis", kpis, ["GET"], Need.OPERATOR)]

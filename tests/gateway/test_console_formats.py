"""How the console writes figures, times, rates and empty charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from gateway.console import charts
from gateway.console.visit import figure, moment, rate


def test_counts_and_quantities_are_grouped_as_the_charts_group_them():
    assert [figure(3725), figure(Decimal("1234.50")), figure("12"), figure(0)] == [
        "3,725", "1,234.5", "12", "0",
    ]  # fmt: skip


def test_times_carry_their_zone_and_are_written_in_utc():
    paris = timezone(timedelta(hours=1))
    assert moment(datetime(2026, 3, 1, 10, 30, tzinfo=paris)) == "2026-03-01 09:30 UTC"
    assert moment(datetime(2026, 3, 1, 9, 30, 59, tzinfo=UTC)) == "2026-03-01 09:30 UTC"
    assert moment(None) == "open"


def test_a_long_unit_rate_is_shown_rounded_with_the_exact_one_as_its_title():
    assert str(rate(Decimal("0.00200000"))) == "0.002"
    assert str(rate(Decimal("99"))) == "99"
    assert str(rate(Decimal("3.19354839"))) == '<span title="exactly 3.19354839">≈ 3.1935</span>'


def test_an_empty_chart_says_why_and_a_chart_with_values_does_not():
    def chart(values):
        return charts.line_chart(charts.Series(
            "Win-back", "%", ["2026-01", "2026-02"], values, Decimal(25),
            "no win-back coupon was issued",
        ))  # fmt: skip

    empty, some = chart([None, None]), chart([None, Decimal(30)])
    assert '<p class="empty">No data yet: no win-back coupon was issued.</p>' in empty
    assert "No data yet" not in some
    # each legend key stays with its label when the caption wraps
    assert '<span class="legend"><span class="key measured"></span> measured</span>' in some

"""Settlement statements: what a partner and the program owe each other for a calendar month in
the partner's time zone, computed from posted ledger transfers and recorded API usage by SQL
aggregation (`aggregation`), priced with the rate card in force on each event's date
(`pricing`).

Each line is quantity x unit rate, rounded half-even to the currency's minor unit; totals are
sums of rounded lines; net = what the partner pays - what it receives. A DRAFT is recomputed on
demand. Closing (`statements`) freezes the lines, the transfers behind them and a hash of the
inputs; an event that later turns up dated inside a closed month is billed as an ADJUSTMENT line
of the first open month after it."""

from partners.settlement.drilldown import DailyActivity, daily_activity, line_transfers
from partners.settlement.periods import Period, minor_unit, plain, zone_of
from partners.settlement.pricing import COMMISSIONS, Line, LineKind, Payer
from partners.settlement.statements import (
    Statement,
    StatementStatus,
    close,
    compute,
    list_statements,
    statement,
)
from partners.settlement.usage import UsageMeter, record_api_call

__all__ = [
    "COMMISSIONS",
    "DailyActivity",
    "Line",
    "LineKind",
    "Payer",
    "Period",
    "Statement",
    "StatementStatus",
    "UsageMeter",
    "close",
    "compute",
    "daily_activity",
    "line_transfers",
    "list_statements",
    "minor_unit",
    "plain",
    "record_api_call",
    "statement",
    "zone_of",
]

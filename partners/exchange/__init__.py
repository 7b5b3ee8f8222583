"""Partner point exchanges: every exchange ends exactly once, POSTED or VOIDED, with points
conserved, however the partner or this process fails.

Outbound (`outbound`: our points to the partner's program): a quote locks the rate for a while;
the request reserves the points with PENDING transfers and commits (RESERVED), calls the
partner's connector with our exchange id as the idempotency key, then posts (APPLIED), voids (a
definite refusal, or a request that certainly never reached the partner), or records UNKNOWN (a
timeout, a 5xx, a lost answer). `reconcile` asks the partner about UNKNOWN and stale RESERVED
exchanges and settles them; a status query fences the id at the partner, so a "not found" can
be voided safely. Inbound (`inbound`: the partner's units to our points): the partner credits a
linked member, with its own reference as the idempotency key, in one transaction.

Every state change (`state`) is an `exchange_events` row and, in the same transaction, a webhook
delivery for each of the partner's subscriptions (an outbox that `partners.webhook` sends)."""

from partners.exchange.inbound import credit_inbound
from partners.exchange.outbound import confirm_account, quote_exchange, request_exchange
from partners.exchange.reads import events_of, exchanges_by_id, list_exchanges
from partners.exchange.reconcile import ReconcileReport, needing_attention, reconcile
from partners.exchange.state import ExchangeState

__all__ = [
    "ExchangeState",
    "ReconcileReport",
    "confirm_account",
    "credit_inbound",
    "events_of",
    "exchanges_by_id",
    "list_exchanges",
    "needing_attention",
    "quote_exchange",
    "reconcile",
    "request_exchange",
]

"""Expected failures: the error vocabulary every layer may raise and read (a leaf module that
imports nothing of the project). Each carries a stable code; the GraphQL layer exposes
`extensions` as is (graphql-core copies an exception's `extensions` dict onto the error), so no
GraphQL import here."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class NotFound(DomainError):
    code = "NOT_FOUND"


class ValidationFailed(DomainError):
    code = "VALIDATION"


class InsufficientPoints(DomainError):
    code = "INSUFFICIENT_POINTS"


class IdempotencyConflict(DomainError):
    code = "IDEMPOTENCY_CONFLICT"


class IdentityTaken(DomainError):
    code = "IDENTITY_TAKEN"

    def __init__(self, message: str, *, holder_id: int, **details: Any) -> None:
        super().__init__(message, **details)
        # Not in the answer: whether the caller may learn of the holder is the caller's policy.
        self.holder_id = holder_id


class InvalidState(DomainError):
    code = "INVALID_STATE"


class PartnerNotContracted(DomainError):
    """The partner has no rate card in force: nothing it does could be settled."""

    code = "PARTNER_NOT_CONTRACTED"


class CouponNotApplicable(DomainError):
    """A coupon that this purchase may not use; `reason` says why (THRESHOLD, EXPIRED,
    CHANNEL, PARTNER, ALREADY_USED, NOT_OWNER, NOT_FOUND, BUDGET)."""

    code = "COUPON_NOT_APPLICABLE"


class OutOfStock(DomainError):
    code = "OUT_OF_STOCK"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class QuoteExpired(DomainError):
    code = "QUOTE_EXPIRED"


class ExchangeLimit(DomainError):
    """An amount outside the partner's terms (minimum, maximum, step, rate) or the daily cap."""

    code = "EXCHANGE_LIMIT"


class PartnerUnavailable(DomainError):
    """The partner did not answer (in time); only the fields that needed it fail."""

    code = "PARTNER_UNAVAILABLE"


class PromotionLimit(DomainError):
    """A partner-funded promotion whose budget does not fit what an operator allowed the
    partner (`limit`, and what its running promotions have `budgeted` already)."""

    code = "PROMOTION_LIMIT"


class TooManyStreams(DomainError):
    """A principal holds as many live subscriptions as it may (`limit`)."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class StreamOverflow(DomainError):
    """A subscriber fell too far behind its events: reconnect with the last event id seen."""

    code = "SUBSCRIBER_TOO_SLOW"

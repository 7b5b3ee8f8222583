"""The root Subscription: live updates (loyalty.live), over graphql-transport-ws and over SSE
(graphql-sse, distinct connections) on /graphql. Who follows what is auth.live's; the events
come from the process's feed (loyalty.live_feed), each checked against the subscriber's
interest before it is sent; the stream ends when the subscriber's token expires or is
revoked."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from auth import live as policy
from loyalty.errors import ValidationFailed
from loyalty.live import Kind
from resolvers.convert import optional_id
from schema.info import Info
from schema.live import LAST_EVENT, LiveUpdate, update_of
from schema.permissions import SIGNED_IN

# SSE's reconnect header: the `id:` of the last event the client received.
LAST_EVENT_HEADER = "last-event-id"


def _missed_since(after: strawberry.ID | None, info: Info) -> int | None:
    named = after if after is not None else info.context.request.headers.get(LAST_EVENT_HEADER)
    if named is None:
        return None
    try:
        since = int(named)
    except (TypeError, ValueError):
        raise ValidationFailed("after is an event id", argument="after") from None
    if not 0 <= since < 2**63:
        raise ValidationFailed("after is an event id", argument="after")
    return since


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="What changes for the caller, as it commits: a member's points, "
        "exchanges, coupons, tier and benefits; a partner's exchanges, its members' points "
        "activity at it and its closed statements; an operator's, narrowed by member or "
        "partner. `after` (or SSE's Last-Event-ID) replays what was missed in the last ten "
        "minutes.",
        permission_classes=[SIGNED_IN],
    )
    async def live_updates(
        self,
        info: Info,
        kinds: list[Kind] | None = None,
        member_id: strawberry.ID | None = None,
        partner_id: strawberry.ID | None = None,
        after: strawberry.ID | None = None,
    ) -> AsyncGenerator[LiveUpdate, None]:
        context = info.context
        if kinds is not None and len(kinds) > len(Kind):
            raise ValidationFailed(f"at most {len(Kind)} kinds", argument="kinds")
        wanted = policy.interest(context.principal, kinds, optional_id(member_id),
                                 optional_id(partner_id))  # fmt: skip
        credential = context.credential
        events = context.live.stream(
            wanted, owner=policy.owner(context.principal), limit=context.live_limit,
            missed_since=_missed_since(after, info), still_good=credential.still_good,
            ends_at=credential.ends_at(),
        )  # fmt: skip
        async for event in events:
            LAST_EVENT.set(event.id)
            yield update_of(event)

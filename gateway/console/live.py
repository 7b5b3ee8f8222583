"""The console's live pages: /console/live streams, as server-sent events, a note of each change
the signed-in person may follow (auth.live) among the kinds a page asks for
(`?kinds=EXCHANGE,STATEMENT&partner=ID`); the page's script (static/console.js) then fetches
the page again and swaps the part marked `data-live`. The stream ends when the session does
(checked every `RECHECK_SECONDS`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson
from starlette.responses import Response, StreamingResponse
from strawberry.http.streaming import merge_stream_with_heartbeat

from auth import console
from auth import live as policy
from auth.access import Need
from gateway.console.visit import Page, Visit, whole
from gateway.live import SSE_KEEP_ALIVE_SECONDS
from loyalty.errors import DomainError
from loyalty.live import Kind
from loyalty.live_feed import LiveFeed

RECHECK_SECONDS = 30.0
# Live pages one person may hold open at once.
PAGES_PER_PERSON = 10


async def live_stream(visit: Visit) -> Response:
    params = visit.request.query_params
    asked = {Kind(k) for k in params.get("kinds", "").split(",") if k in Kind.__members__}
    principal = visit.principal
    wanted = policy.change_notes(principal, asked, whole(params.get("partner")))
    feed: LiveFeed = visit.request.app.state.live
    token = visit.session.token if visit.session else ""

    async def still_good() -> bool:
        return await console.session(visit.db, token) is not None

    events = feed.stream(wanted, owner=policy.owner(principal), limit=PAGES_PER_PERSON,
                         missed_since=None, still_good=still_good, ends_at=None,
                         recheck=RECHECK_SECONDS)  # fmt: skip

    async def written() -> AsyncGenerator[str, None]:
        yield ": live\n\n"
        try:
            async for event in events:
                note = {"kind": event.kind.value, "subject": event.subject, "state": event.state}
                yield f"id: {event.id}\ndata: {orjson.dumps(note).decode()}\n\n"
        except DomainError:  # the session ended, or too many pages open
            return

    kept_alive = merge_stream_with_heartbeat(
        written, lambda: ": ping\n\n", SSE_KEEP_ALIVE_SECONDS, send_initial_heartbeat=False
    )
    return StreamingResponse(kept_alive(), media_type="text/event-stream",
                             headers={"X-Accel-Buffering": "no"})  # fmt: skip


ROUTES = (Page("/live", live_stream, ["GET"], Need.SIGNED_IN),)

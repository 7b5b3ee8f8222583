"""Background jobs inside `serve` (off unless POINTGATE_BACKGROUND_JOBS=1): reconcile exchanges
the partner left open, send due webhook deliveries and settle referral shares left pending,
every few seconds. All are safe to run on every replica at once: settling is conditional on the
exchange (the purchase) still being open (pending)."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio
import httpx

from gateway.settings import Settings
from infra.database import Database
from loyalty import referral
from partners import exchange, webhook
from partners.directory import ConnectorDirectory

log = logging.getLogger("pointgate.jobs")
INTERVAL_SECONDS = 15.0


async def run_background_jobs(
    db: Database, directory: ConnectorDirectory, settings: Settings
) -> None:
    stale = timedelta(seconds=settings.reconcile_after_seconds)
    async with httpx.AsyncClient(timeout=settings.connector_timeout_seconds) as http:
        while True:
            try:
                await exchange.reconcile(db, directory, stale_after=stale)
                await webhook.deliver_due(db, http, egress=settings.egress())
                await referral.settle_shares(db, settings.program)
            except Exception:  # a failed round is logged and the next one tries again
                log.exception("background jobs failed; retrying in %s s", INTERVAL_SECONDS)
            await anyio.sleep(INTERVAL_SECONDS)

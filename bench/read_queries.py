"""The read operations of bench/side_by_side.py beyond the nested query (issue 26): the nested
query with one more Member field each, a member app's own view and a partner's dashboard, and
the tokens of the member and the partner's client that send them."""

from __future__ import annotations

from datetime import timedelta

from auth import clients
from auth.tokens import KeyCache, mint
from bench.common import DATA_KEY
from bench.gateway_load import NESTED
from gateway.settings import Settings
from infra.database import Database

# Each inserted into the nested query's member selection, in turn.
EXTRA_FIELDS = {
    "growthValue": "growthValue",
    "tierProgress": "tierProgress { growthValue nextTier growthValueNeeded }",
    "expiringPoints": "expiringPoints { points }",
    "ledger(first: 3)": "ledger(first: 3) { edges { node { transferId points reason } } }",
    "referrals": "referrals { nodes { displayName qualified } }",
    "coupons": "coupons { code state }",
    "benefits": "benefits { code value }",
}


def nested_with(field: str) -> str:
    return NESTED.replace("id displayName tier ", f"id displayName tier {field} ", 1)


MEMBER_APP = """query MemberApp { me {
  id displayName tier balance { available pending }
  tierProgress { growthValue nextTier nextTierThreshold growthValueNeeded }
  expiringPoints { points byDate { expiresOn points } }
  ledger(first: 10) { edges { node { transferId points reason createdAt } } }
  coupons { code state validUntil } benefits { code name value }
} }"""

PARTNER_DASHBOARD = """query Dashboard {
  members(first: 20) { edges { node { id displayName tier partnerAccounts { externalId } } } }
  exchanges(first: 20) { edges { node { id state direction points units createdAt } } }
  settlementStatements { period status payableByPartner payableByProgram }
}"""

# The seeded partner whose accounts a third of the members hold (gateway.seed).
DASHBOARD_PARTNER = "skyway-air"


async def caller_headers(url: str, member_id: int) -> dict[str, dict[str, str]]:
    """Authorization headers of a member and of a client of the dashboard's partner."""
    db = Database(url)
    settings = Settings.from_env({"DATABASE_URL": url, "POINTGATE_DATA_KEYS": DATA_KEY})
    keys = KeyCache(db, settings.token_settings())
    client = await clients.create_client(
        db, name="bench-dashboard", partner_code=DASHBOARD_PARTNER,
        scopes=["members:read", "exchanges:read", "settlements:read"],
    )  # fmt: skip
    hour = timedelta(hours=2)
    member = await mint(db, settings.token_settings(), keys, subject=f"member:{member_id}",
                        lifetime=hour)  # fmt: skip
    partner = await mint(db, settings.token_settings(), keys, subject=client.client_id,
                         scope="members:read exchanges:read settlements:read",
                         client_id=client.client_id, lifetime=hour)  # fmt: skip
    await db.dispose()
    return {"member": {"Authorization": f"Bearer {member}"},
            "partner": {"Authorization": f"Bearer {partner}"}}  # fmt: skip

"""Client onboarding over HTTP: RFC 7591 registration with an admin's initial access token, and
RFC 7592 read, update and delete with the registration access token."""

from __future__ import annotations

import pytest

from tests.auth.test_oauth_server import PARTNERS, token_response
from tests.conftest import bearer, http_client
from tests.factories import a_partner


class Registered:
    def __init__(self, body: dict) -> None:
        self.client_id = body["client_id"]
        self.client_secret = body["client_secret"]
        self.registration_token = body["registration_access_token"]
        self.uri = body["registration_client_uri"]


async def test_registration_needs_an_admin_initial_access_token(app, anonymous, db):
    await a_partner(db, "acme-coffee")
    metadata = {"client_name": "Acme POS", "scope": "purchases:write members:read",
                "grant_types": ["client_credentials"], "partner_code": "acme-coffee"}  # fmt: skip
    partner_token = await bearer(app, "operator:not-admin", "members:read")

    without = await anonymous.post("/oauth/register", json=metadata)
    not_admin = await http_client(app, partner_token).post("/oauth/register", json=metadata)
    admin = http_client(app, await bearer(app, "operator:onboarding", "admin"))
    created = await admin.post("/oauth/register", json=metadata)

    assert without.json()["error"] == not_admin.json()["error"] == "access_denied"
    assert created.status_code == 201
    registered = Registered(created.json())
    token = await token_response(anonymous, registered)
    assert token.status_code == 200
    as_partner = http_client(app, {"Authorization": f"Bearer {token.json()['access_token']}"})
    partners = (await as_partner.post("/graphql", json={"query": PARTNERS})).json()
    assert partners["data"]["partners"] == [{"code": "acme-coffee"}]


async def test_a_registration_is_read_updated_and_deleted_with_its_own_token(app, anonymous, db):
    admin = http_client(app, await bearer(app, "operator:onboarding", "admin"))
    body = (await admin.post("/oauth/register", json={
        "client_name": "reporting", "scope": "members:read purchases:write",
        "grant_types": ["client_credentials"],
    })).json()  # fmt: skip
    registered = Registered(body)
    manage = http_client(app, {"Authorization": f"Bearer {registered.registration_token}"})
    path = f"/oauth/register/{registered.client_id}"
    token = (await token_response(anonymous, registered)).json()["access_token"]

    read = await manage.get(path)
    updated = await manage.put(path, json={"client_id": registered.client_id,
                                           "client_name": "reporting v2", "scope": "members:read",
                                           "grant_types": ["client_credentials"]})  # fmt: skip
    wrong_token = await http_client(app, {"Authorization": "Bearer nope"}).get(path)
    deleted = await manage.delete(path)
    token_after = await http_client(app, {"Authorization": f"Bearer {token}"}).post(
        "/graphql", json={"query": PARTNERS}
    )

    assert read.status_code == 200 and read.json()["client_name"] == "reporting"
    assert updated.json()["client_name"] == "reporting v2"
    assert updated.json()["scope"] == "members:read"
    assert wrong_token.json()["error"] == "access_denied"
    assert deleted.status_code == 204
    assert token_after.status_code == 401
    assert (await manage.get(path)).json()["error"] == "access_denied"


# Every field an RFC 7592 update could use to get more than the client was given.
ESCALATIONS = {
    "admin scope": {"scope": "members:read admin"},
    "another scope": {"scope": "members:read exchanges:write"},
    "another partner": {"scope": "members:read", "partner_code": "other-brand"},
    "another grant type": {
        "scope": "members:read",
        "grant_types": ["client_credentials", "authorization_code"],
    },
    "redirect uris": {"scope": "members:read", "redirect_uris": ["https://evil.test/cb"]},
    "auth method none": {"scope": "members:read", "token_endpoint_auth_method": "none"},
    "a chosen secret": {"scope": "members:read", "client_secret": "chosen"},
    "another client id": {"scope": "members:read", "client_id": "pg_someone_else"},
}


@pytest.mark.parametrize("change", ESCALATIONS.values(), ids=ESCALATIONS.keys())
async def test_a_client_cannot_widen_its_own_registration(app, anonymous, db, change):
    await a_partner(db, "acme-coffee")
    await a_partner(db, "other-brand")
    admin = http_client(app, await bearer(app, "operator:onboarding", "admin"))
    for partner in ("acme-coffee", None):
        metadata = {"client_name": "pos", "scope": "members:read",
                    "grant_types": ["client_credentials"]}  # fmt: skip
        if partner:
            metadata["partner_code"] = partner
        registered = Registered((await admin.post("/oauth/register", json=metadata)).json())
        manage = http_client(app, {"Authorization": f"Bearer {registered.registration_token}"})
        path = f"/oauth/register/{registered.client_id}"

        answer = await manage.put(path, json={"client_id": registered.client_id, **change})
        token = (await token_response(anonymous, registered)).json()

        assert answer.status_code in (400, 401, 403), answer.text
        assert token["scope"] == "members:read"
        record = (await manage.get(path)).json()
        assert record["scope"] == "members:read"
        assert record["grant_types"] == ["client_credentials"]


async def test_an_operator_widens_a_client_and_the_audit_log_says_who(app, anonymous, db, client):
    await a_partner(db, "acme-coffee")
    admin = http_client(app, await bearer(app, "operator:onboarding", "admin"))
    registered = Registered((await admin.post("/oauth/register", json={
        "client_name": "pos", "scope": "members:read", "grant_types": ["client_credentials"],
        "partner_code": "acme-coffee",
    })).json())  # fmt: skip
    path = f"/oauth/register/{registered.client_id}"
    by_itself = http_client(app, {"Authorization": f"Bearer {registered.registration_token}"})

    refused = await by_itself.put(
        path, json={"client_id": registered.client_id, "scope": "members:read purchases:write"}
    )
    widened = await admin.put(
        path, json={"client_id": registered.client_id, "scope": "members:read purchases:write"}
    )
    no_admin = await admin.put(
        path, json={"client_id": registered.client_id, "scope": "members:read admin"}
    )
    token = (await token_response(anonymous, registered)).json()
    log = (await client.post("/graphql", json={"query": AUDIT})).json()["data"]["auditLog"]

    assert refused.status_code == 400
    assert widened.status_code == 200 and widened.json()["scope"] == "members:read purchases:write"
    assert no_admin.status_code == 400
    assert token["scope"] == "members:read purchases:write"
    updates = [(e["subject"], e["outcome"]) for e in log["nodes"] if e["action"] == "client.update"]
    assert updates == [("operator:onboarding", "REFUSED"), ("operator:onboarding", "OK"),
                       (registered.client_id, "REFUSED")]  # fmt: skip


AUDIT = "{ auditLog(first: 50) { nodes { action subject outcome } } }"

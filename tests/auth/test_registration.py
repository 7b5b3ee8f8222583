"""Client onboarding over HTTP: RFC 7591 registration with an admin's initial access token, and
RFC 7592 read, update and delete with the registration access token."""

from __future__ import annotations

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
        "client_name": "reporting", "scope": "members:read", "grant_types": ["client_credentials"],
    })).json()  # fmt: skip
    registered = Registered(body)
    manage = http_client(app, {"Authorization": f"Bearer {registered.registration_token}"})
    path = f"/oauth/register/{registered.client_id}"
    token = (await token_response(anonymous, registered)).json()["access_token"]

    read = await manage.get(path)
    updated = await manage.put(path, json={"client_id": registered.client_id,
                                           "client_name": "reporting v2", "scope": "admin",
                                           "grant_types": ["client_credentials"]})  # fmt: skip
    wrong_token = await http_client(app, {"Authorization": "Bearer nope"}).get(path)
    deleted = await manage.delete(path)
    token_after = await http_client(app, {"Authorization": f"Bearer {token}"}).post(
        "/graphql", json={"query": PARTNERS}
    )

    assert read.status_code == 200 and read.json()["client_name"] == "reporting"
    assert updated.json()["client_name"] == "reporting v2"
    assert updated.json()["scope"] == "admin"
    assert wrong_token.json()["error"] == "access_denied"
    assert deleted.status_code == 204
    assert token_after.status_code == 401
    assert (await manage.get(path)).json()["error"] == "access_denied"

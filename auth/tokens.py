"""Access tokens: minting our own (RFC 9068 JWTs) and verifying every bearer token the gateway
receives into a Principal.

Verification trusts nothing in the token before the signature is checked: the algorithm must be
RS256 (so `alg: none` and an HMAC "signed" with our public key fail), the key is chosen by `kid`
from the issuer's published keys only, and `iss`, `aud` and `exp` must match. Our own tokens
must also be on record and neither they nor their client revoked: that lookup is what makes a
revocation take effect at once."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from auth import keys
from auth.principal import Principal, PrincipalKind
from auth.revocations import TokenStates
from infra.database import Database
from infra.models import identities, issued_tokens, oauth_clients

ALLOWED_ALGORITHMS = [keys.ALGORITHM]
MEMBER_SUBJECT_PREFIX = "member:"
# The client id of tokens the gateway mints itself (development member tokens, the CLI).
GATEWAY_CLIENT = "pointgate"
# Seconds between two refreshes forced by an unknown kid (a rotation on another replica).
UNKNOWN_KID_REFRESH_SECONDS = 5.0


class InvalidToken(Exception):
    """The bearer token is not one this gateway accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class TokenSettings:
    issuer: str
    audience: str
    lifetime: timedelta
    jwks_cache: timedelta
    member_issuer: str | None = None
    member_jwks_url: str | None = None
    member_audience: str | None = None


class KeyCache:
    """Our signing keys, reloaded every `refresh_after` and at once (rate-limited) when a token
    names a kid we do not know yet."""

    def __init__(self, db: Database, settings: TokenSettings, refresh_after: float = 60.0) -> None:
        self.db = db
        self.settings = settings
        self.refresh_after = refresh_after
        self._keys: keys.SigningKeys | None = None
        self._loaded_at = 0.0

    async def key_set(self, *, unknown_kid: bool = False) -> KeySet:
        """The published (public) keys, for verifying."""
        return (await self.get(unknown_kid=unknown_kid)).published

    async def get(self, *, unknown_kid: bool = False) -> keys.SigningKeys:
        age = time.monotonic() - self._loaded_at
        if (
            self._keys is None
            or age > self.refresh_after
            or (unknown_kid and age > UNKNOWN_KID_REFRESH_SECONDS)
        ):
            keep = self.settings.lifetime + self.settings.jwks_cache
            self._keys = await keys.load(self.db, keep_retired_for=keep)
            self._loaded_at = time.monotonic()
        return self._keys


class RemoteKeys:
    """A member identity provider's JWKS, fetched with httpx and kept for the cache time."""

    def __init__(self, url: str, ttl: timedelta, transport: httpx.AsyncBaseTransport | None = None):
        self.url = url
        self.ttl = ttl.total_seconds()
        self.transport = transport
        self._keys: KeySet | None = None
        self._loaded_at = 0.0

    async def key_set(self, *, unknown_kid: bool = False) -> KeySet:
        age = time.monotonic() - self._loaded_at
        if (
            self._keys is None
            or age > self.ttl
            or (unknown_kid and age > UNKNOWN_KID_REFRESH_SECONDS)
        ):
            async with httpx.AsyncClient(transport=self.transport, timeout=5.0) as http:
                response = await http.get(self.url)
                response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            self._loaded_at = time.monotonic()
        return self._keys


def decode_segment(part: str) -> Any:
    """One base64url segment of a JWT, as JSON (unverified)."""
    return orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read only to choose how to verify; nothing here is trusted."""
    try:
        header_part, claims_part, _signature = token.split(".")
        header, claims = decode_segment(header_part), decode_segment(claims_part)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidToken("the token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("the token is not a JWT")
    return header, claims


# A token's revocation state and its client's, read where memory does not answer (built once).
TOKEN_STATE = (
    select(
        issued_tokens.c.revoked_at,
        issued_tokens.c.client_id,
        oauth_clients.c.status,
        oauth_clients.c.partner_id,
    )
    .select_from(
        issued_tokens.outerjoin(
            oauth_clients, oauth_clients.c.client_id == issued_tokens.c.client_id
        )
    )
    .where(issued_tokens.c.jti == bindparam("jti"))
)
EXPIRY_LEEWAY_SECONDS = 30
# How many verified tokens are remembered (all forgotten at once when full).
VERIFIED_TOKENS = 10_000


class TokenVerifier:
    def __init__(
        self,
        db: Database,
        settings: TokenSettings,
        key_cache: KeyCache,
        member_keys: RemoteKeys | None = None,
        states: TokenStates | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.key_cache = key_cache
        self.member_keys = member_keys
        # Our tokens' revocation states, in memory while their feed is live (auth.revocations).
        self.states = states or TokenStates(db)
        # Our own tokens already verified: token -> (claims, kid, verified until).
        self._verified: dict[str, tuple[dict[str, Any], Any, float]] = {}
        # Their principals, with the revocation epoch they were derived in.
        self._principals: dict[str, tuple[Principal, int]] = {}

    def _remember(self, token: str, claims: dict[str, Any], kid: Any) -> None:
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
            self._principals.clear()
        until = float(claims["exp"]) + EXPIRY_LEEWAY_SECONDS
        self._verified[token] = (claims, kid, until)

    async def _still_published(self, kid: Any) -> bool:
        key_set = await self.key_cache.key_set()
        return any(key.kid == kid for key in key_set.keys)

    async def principal(self, token: str, *, now: float | None = None) -> Principal:
        # A token verified before needs no second signature check while it lasts and its key
        # is still published; revocation is checked on every request all the same.
        remembered = self._verified.get(token) if now is None else None
        if remembered is not None:
            claims, kid, until = remembered
            if time.time() < until and await self._still_published(kid):
                # The principal of an unchanged token state (no revocation heard since).
                known = self._principals.get(token)
                epoch = self.states.epoch()
                if known is not None and epoch is not None and known[1] == epoch:
                    return known[0]
                principal = await self._own_principal(claims)
                if epoch is not None and epoch == self.states.epoch():
                    self._principals[token] = (principal, epoch)
                return principal
            del self._verified[token]
            self._principals.pop(token, None)
        header, unverified = _unverified(token)
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"the algorithm {header.get('alg')!r} is not accepted")
        issuer = unverified.get("iss")
        if issuer == self.settings.issuer:
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
                raise InvalidToken("an access token must have typ at+jwt")
            claims = await self._verify(token, header, issuer, self.settings.audience, now)
            principal = await self._own_principal(claims)
            if now is None:
                self._remember(token, claims, header.get("kid"))
            return principal
        if issuer is not None and issuer == self.settings.member_issuer and self.member_keys:
            audience = self.settings.member_audience or self.settings.audience
            claims = await self._verify(token, header, issuer, audience, now)
            return await self._member_from_identity_provider(claims)
        raise InvalidToken("the token is from an issuer this gateway does not trust")

    async def still_holds(self, token: str, principal: Principal) -> bool:
        """Whether `token` still verifies to `principal`: not expired, not revoked, its client
        unchanged (a live subscription asks again when a revocation is heard)."""
        try:
            return await self.principal(token) == principal
        except InvalidToken:
            return False

    @staticmethod
    def expires_at(token: str) -> float | None:
        """A verified token's expiry (epoch seconds)."""
        exp = _unverified(token)[1].get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    async def _verify(
        self, token: str, header: dict[str, Any], issuer: str, audience: str, now: float | None
    ) -> dict[str, Any]:
        keys_for = self.key_cache if issuer == self.settings.issuer else self.member_keys
        assert keys_for is not None
        key_set = await self._key_set(keys_for, header.get("kid"))
        try:
            decoded = jwt.decode(token, key_set, algorithms=ALLOWED_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=int(now) if now is not None else None,
                leeway=EXPIRY_LEEWAY_SECONDS,
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": audience},
                exp={"essential": True},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"the token does not verify: {error}") from None
        return dict(decoded.claims)

    async def _key_set(self, source: KeyCache | RemoteKeys, kid: Any) -> KeySet:
        if not isinstance(kid, str):
            raise InvalidToken("the token names no key (kid)")
        key_set = await source.key_set()
        if not any(key.kid == kid for key in key_set.keys):
            key_set = await source.key_set(unknown_kid=True)
            if not any(key.kid == kid for key in key_set.keys):
                raise InvalidToken("the token is signed by a key this gateway does not publish")
        return key_set

    async def _own_principal(self, claims: dict[str, Any]) -> Principal:
        jti = claims.get("jti")

        async def lookup(conn: AsyncConnection) -> Any:
            return (await conn.execute(TOKEN_STATE, {"jti": jti})).first()

        # When not answered from memory, the first read of nearly every request: after a
        # database restart it meets the dead pooled connection, and a second try on a fresh one
        # spares the client an error.
        record = await self.states.state(str(jti), lambda: self.db.read_once_more(lookup))
        if record is None:
            raise InvalidToken("the token was not issued by this gateway")
        if record.revoked:
            raise InvalidToken("the token was revoked")
        client_id = claims.get("client_id")
        scopes = frozenset(str(claims.get("scope") or "").split())
        subject = str(claims["sub"])
        if client_id != GATEWAY_CLIENT and record.client_status != "ACTIVE":
            raise InvalidToken("the token's client was revoked")
        if subject.startswith(MEMBER_SUBJECT_PREFIX):
            member_id = int(subject.removeprefix(MEMBER_SUBJECT_PREFIX))
            return Principal(kind=PrincipalKind.MEMBER, subject=subject, scopes=scopes,
                             member_id=member_id, client_id=client_id, token_id=jti)  # fmt: skip
        partner_id = record.partner_id
        kind = PrincipalKind.PARTNER if partner_id is not None else PrincipalKind.OPERATOR
        return Principal(kind=kind, subject=subject, scopes=scopes, partner_id=partner_id,
                         client_id=client_id, token_id=jti)  # fmt: skip

    async def _member_from_identity_provider(self, claims: dict[str, Any]) -> Principal:
        """The identity provider's subject is the member's ONLINE_ACCOUNT identity."""
        subject = str(claims["sub"])
        async with self.db.read() as conn:
            member_id = await conn.scalar(
                select(identities.c.member_id).where(
                    identities.c.kind == "ONLINE_ACCOUNT", identities.c.value == subject
                )
            )
        if member_id is None:
            raise InvalidToken("no member has this identity provider account")
        return Principal(kind=PrincipalKind.MEMBER, subject=f"{MEMBER_SUBJECT_PREFIX}{member_id}",
                         member_id=member_id)  # fmt: skip


async def record_issued(db: Database, claims: dict[str, Any]) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            insert(issued_tokens).values(
                jti=claims["jti"], client_id=claims["client_id"], subject=claims["sub"],
                scope=claims.get("scope") or "",
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        )  # fmt: skip


async def mint(
    db: Database,
    settings: TokenSettings,
    key_cache: KeyCache,
    *,
    subject: str,
    scope: str = "",
    client_id: str = GATEWAY_CLIENT,
    lifetime: timedelta | None = None,
) -> str:
    """A token from the gateway's own issuer, recorded like any issued token: for members in
    development (`pointgate token member ID`) and for operators' tools."""
    now = int(time.time())
    claims = {
        "iss": settings.issuer, "aud": settings.audience, "sub": subject, "client_id": client_id,
        "scope": scope, "jti": secrets.token_urlsafe(16), "iat": now,
        "exp": now + int((lifetime or settings.lifetime).total_seconds()),
    }  # fmt: skip
    signing = await key_cache.get()
    token = jwt.encode(
        {"alg": keys.ALGORITHM, "typ": "at+jwt", "kid": signing.current.kid}, claims,
        signing.current,
    )  # fmt: skip
    await record_issued(db, claims)
    return token

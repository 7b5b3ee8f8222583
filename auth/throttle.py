"""Failed client authentications at the token endpoint are throttled per client id and per
address: a burst of `burst` failures, then one more per `per_minute`-th of a minute. While a key
is over its budget every request for it is refused (429) before the secret is even checked, so
guessing a secret costs minutes per ten guesses instead of milliseconds. The console's sign-in
uses the same throttle per e-mail address and per address (`prefix` keeps their counts apart)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from infra.store import Store


@dataclass(frozen=True, slots=True)
class Refused:
    retry_after: int


class AuthenticationThrottle:
    def __init__(
        self, store: Store, *, burst: int = 10, per_minute: float = 10,
        prefix: str = "token-failures",
    ) -> None:  # fmt: skip
        self.store, self.burst, self.per_second = store, burst, per_minute / 60
        self.prefix = prefix

    def keys(self, client_id: str | None, address: str | None) -> list[str]:
        found = [f"{self.prefix}:address:{address or 'unknown'}"]
        if client_id:
            found.append(f"{self.prefix}:client:{client_id[:200]}")
        return found

    async def blocked(self, client_id: str | None, address: str | None) -> Refused | None:
        for key in self.keys(client_id, address):
            until = await self.store.get(f"{key}:blocked")
            if until is not None:
                return Refused(retry_after=int(until))
        return None

    async def failed(self, client_id: str | None, address: str | None) -> Refused | None:
        """Count a failure; once a key's budget is spent, block it until a token is back."""
        refused = None
        for key in self.keys(client_id, address):
            allowed, wait = await self.store.take(key, self.burst, self.per_second)
            if not allowed:
                retry = max(1, int(wait + 0.999))
                await self.store.set(f"{key}:blocked", str(retry), ttl_seconds=retry)
                refused = Refused(retry_after=retry)
        return refused


def client_id_of(authorization: str | None, form: dict[str, str]) -> str | None:
    """The client id a token request claims (HTTP Basic or client_secret_post)."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return form.get("client_id") or None

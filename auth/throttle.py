"""Failed authentications (a client's secret at the token endpoint, a person's password or code
at the console's sign-in; `prefix` keeps their counts apart) slow the attacker down without
locking the owner out (OWASP's guidance on account lockout):

- per address: a burst of `burst` failures, then one more per `per_minute`-th of a minute;
- per account and address: the same budget, and each time it runs out the block doubles (up to
  an hour), so one address guessing one account gets slower and slower;
- per account from anywhere: a larger budget (`account_burst`) that slows guessing spread over
  many addresses, and that does not apply to an address the account authenticated from before
  (`succeeded` remembers it for `known_days`): wrong guesses from elsewhere never lock the
  owner out of the address it uses.

While a key is over its budget a request is refused (429, Retry-After) before the secret is even
checked."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from infra.store import Store

MAX_BLOCK_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Refused:
    retry_after: int


class AuthenticationThrottle:
    def __init__(
        self, store: Store, *, burst: int = 10, per_minute: float = 10,
        prefix: str = "token-failures", account_burst: int = 50, known_days: int = 30,
    ) -> None:  # fmt: skip
        self.store, self.burst, self.per_second = store, burst, per_minute / 60
        self.prefix, self.account_burst = prefix, account_burst
        self.known_seconds = known_days * 86400

    def _keys(self, account: str | None, address: str | None) -> list[tuple[str, int, bool]]:
        """(key, burst, grows) for each count a failure from `address` for `account` spends."""
        where = _digest(address or "unknown")
        found = [(f"{self.prefix}:address:{where}", self.burst, False)]
        if account:
            who = _digest(account)
            found.append((f"{self.prefix}:pair:{who}:{where}", self.burst, True))
            found.append((f"{self.prefix}:account:{who}", self.account_burst, False))
        return found

    async def _known(self, account: str | None, address: str | None) -> bool:
        if not account:
            return False
        key = f"{self.prefix}:known:{_digest(account)}:{_digest(address or 'unknown')}"
        return await self.store.get(key) is not None

    async def blocked(self, account: str | None, address: str | None) -> Refused | None:
        known = await self._known(account, address)
        for key, _, _ in self._keys(account, address):
            if known and ":account:" in key:
                continue
            until = await self.store.get(f"{key}:blocked")
            if until is not None:
                return Refused(retry_after=int(until))
        return None

    async def failed(self, account: str | None, address: str | None) -> Refused | None:
        """Count a failure; once a key's budget is spent, block it until a token is back (a
        pair's block doubles each time)."""
        known = await self._known(account, address)
        refused = None
        for key, burst, grows in self._keys(account, address):
            allowed, wait = await self.store.take(key, burst, self.per_second)
            if allowed:
                continue
            retry = max(1, int(wait + 0.999))
            if grows:
                strikes = int(await self.store.get(f"{key}:strikes") or 0)
                retry = min(MAX_BLOCK_SECONDS, retry * 2**strikes)
                await self.store.set(f"{key}:strikes", str(strikes + 1), ttl_seconds=86400)
            await self.store.set(f"{key}:blocked", str(retry), ttl_seconds=retry)
            if not (known and ":account:" in key):
                refused = Refused(retry_after=max(retry, refused.retry_after if refused else 0))
        return refused

    async def succeeded(self, account: str | None, address: str | None) -> None:
        """The account authenticated from this address: the address is known to it."""
        if account:
            key = f"{self.prefix}:known:{_digest(account)}:{_digest(address or 'unknown')}"
            await self.store.set(key, "1", ttl_seconds=self.known_seconds)


def _digest(text: str) -> str:
    """Keys name no e-mail address or client id in the store, and have a bounded length."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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

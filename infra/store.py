"""A small shared store for the gateway's own state: persisted query documents and rate-limit
buckets. Redis when REDIS_URL is set (every replica sees the same), process memory otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

# Atomic token bucket: refill by elapsed time, take one token if there is one.
# Returns {allowed (0/1), seconds until the next token}.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * per_second)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 60)
local wait = 0
if allowed == 0 then wait = (1 - tokens) / per_second end
return {allowed, tostring(wait)}
"""


class Store(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None: ...

    async def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        """Set `key` unless it is set: whether this call set it (atomic across replicas with
        Redis)."""
        ...

    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float]:
        """Take one token from the bucket `key`: (allowed, seconds to wait if not)."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[str, tuple[str, float | None]] = {}
        self.buckets: dict[str, tuple[float, float]] = {}

    async def get(self, key: str) -> str | None:
        found = self.values.get(key)
        if found is None or (found[1] is not None and found[1] < time.monotonic()):
            return None
        return found[0]

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        expires = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        self.values[key] = (value, expires)

    async def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float]:
        now = time.monotonic()
        tokens, at = self.buckets.get(key, (float(capacity), now))
        tokens = min(capacity, tokens + (now - at) * per_second)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self.buckets[key] = (tokens, now)
        return allowed, 0.0 if allowed else (1 - tokens) / per_second

    async def ping(self) -> None:
        """Memory always answers."""

    async def close(self) -> None:
        """Nothing to release."""


class StoreUnavailable(ConnectionError):
    """The shared store (Redis) did not answer: retryable, like the database being down (a
    ConnectionError, so infra.database.is_transient says so), answered 503 everywhere."""


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except RedisError as error:
        raise StoreUnavailable(f"the shared store is unavailable: {error}") from error


class RedisStore:
    def __init__(self, url: str, prefix: str = "pointgate:") -> None:
        self.redis = Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.bucket = self.redis.register_script(TOKEN_BUCKET)

    async def get(self, key: str) -> str | None:
        with _answered():
            value = await self.redis.get(self.prefix + key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        with _answered():
            await self.redis.set(self.prefix + key, value, ex=ttl_seconds)

    async def add(self, key: str, value: str, ttl_seconds: int) -> bool:
        with _answered():
            return bool(await self.redis.set(self.prefix + key, value, ex=ttl_seconds, nx=True))

    async def take(self, key: str, capacity: int, per_second: float) -> tuple[bool, float]:
        with _answered():
            allowed, wait = await self.bucket(
                keys=[self.prefix + "bucket:" + key], args=[capacity, per_second, time.time()]
            )
        return bool(int(allowed)), float(wait)

    async def ping(self) -> None:
        with _answered():
            await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


def open_store(redis_url: str | None) -> Store:
    return RedisStore(redis_url) if redis_url else MemoryStore()

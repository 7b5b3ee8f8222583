"""Fan-out inside one process: items published under keys reach the inboxes opened for any of
those keys (or for `EVERYTHING`), each inbox a bounded buffer read by one consumer. Publishing
costs one dictionary look-up per key and one append per interested inbox, whatever the number
of inboxes; an inbox that falls `capacity` items behind is closed (its consumer ends, and may
reconnect and replay), so a slow consumer never holds the process's memory."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable, Iterable
from typing import Any, Final

EVERYTHING: Final = ("*",)
# What `Inbox.next` answers when the inbox was asked to look at its consumer again (`wake`).
WAKE: Final = object()


class Overflow(Exception):
    """The consumer fell too far behind: items were dropped, and the inbox is closed."""


class Inbox:
    __slots__ = ("_event", "_items", "capacity", "closed", "keys", "owner")

    def __init__(self, keys: tuple[Hashable, ...], owner: Hashable, capacity: int) -> None:
        self.keys = keys
        self.owner = owner
        self.capacity = capacity
        self.closed = False
        self._items: deque[Any] = deque()
        self._event = asyncio.Event()

    def put(self, item: Any) -> None:
        if self.closed:
            return
        if len(self._items) >= self.capacity:
            self.closed = True  # dropped from here on: the consumer learns it at `next`
        self._items.append(item)
        self._event.set()

    async def next(self, within: float | None = None) -> Any:
        """The next item, WAKE when woken with nothing queued, or None after `within`
        seconds."""
        while not self._items:
            self._event.clear()
            try:
                async with asyncio.timeout(within):
                    await self._event.wait()
            except TimeoutError:
                return None
        if self.closed and len(self._items) > self.capacity:
            raise Overflow(f"more than {self.capacity} items waiting")
        return self._items.popleft()


class Fanout:
    def __init__(self, capacity: int = 1_000) -> None:
        self.capacity = capacity
        self._by_key: dict[Hashable, set[Inbox]] = {}
        self._by_owner: dict[Hashable, int] = {}

    def open(self, keys: Iterable[Hashable], owner: Hashable, limit: int) -> Inbox | None:
        """An inbox for items published under any of `keys`; None when `owner` holds `limit`
        open inboxes already."""
        if self._by_owner.get(owner, 0) >= limit:
            return None
        inbox = Inbox(tuple(keys), owner, self.capacity)
        for key in inbox.keys:
            self._by_key.setdefault(key, set()).add(inbox)
        self._by_owner[owner] = self._by_owner.get(owner, 0) + 1
        return inbox

    def close(self, inbox: Inbox) -> None:
        for key in inbox.keys:
            held = self._by_key.get(key)
            if held is not None:
                held.discard(inbox)
                if not held:
                    del self._by_key[key]
        left = self._by_owner.get(inbox.owner, 1) - 1
        if left:
            self._by_owner[inbox.owner] = left
        else:
            self._by_owner.pop(inbox.owner, None)
        inbox.closed = True

    def publish(self, keys: Iterable[Hashable], item: Any) -> None:
        reached: set[Inbox] = set()
        for key in (*keys, EVERYTHING):
            held = self._by_key.get(key)
            if held:
                reached.update(held)
        for inbox in reached:
            inbox.put(item)

    def wake(self) -> None:
        """Have every consumer look again (a token was revoked: is its own still good?)."""
        for inbox in {inbox for held in self._by_key.values() for inbox in held}:
            inbox.put(WAKE)

    def open_count(self) -> int:
        return sum(self._by_owner.values())

"""In-process fan-out (infra.fanout): items reach the inboxes of their keys and of everything,
an owner's inboxes are capped, a consumer too far behind is told so, and a wake reaches each
inbox once."""

from __future__ import annotations

import pytest

from infra.fanout import EVERYTHING, WAKE, Fanout, Overflow


async def test_items_reach_the_inboxes_of_their_keys_only():
    fanout = Fanout()
    ada = fanout.open([("member", 1)], "ada", limit=5)
    sky = fanout.open([("partner", 9)], "sky", limit=5)
    every = fanout.open([EVERYTHING], "ops", limit=5)
    assert ada and sky and every
    fanout.publish([("member", 1), ("partner", 9)], "ada at sky")
    fanout.publish([("member", 2)], "bob")

    assert await ada.next(0.1) == "ada at sky" and await ada.next(0.05) is None
    assert await sky.next(0.1) == "ada at sky" and await sky.next(0.05) is None
    assert [await every.next(0.1), await every.next(0.1)] == ["ada at sky", "bob"]


async def test_owners_are_capped_and_closing_frees_a_place():
    fanout = Fanout()
    held = [fanout.open([("member", 1)], "ada", limit=2) for _ in range(2)]
    assert fanout.open([("member", 1)], "ada", limit=2) is None
    assert fanout.open([("member", 2)], "bob", limit=2) is not None
    fanout.close(held[0])  # type: ignore[arg-type]
    assert fanout.open([("member", 1)], "ada", limit=2) is not None
    assert fanout.open_count() == 3


async def test_a_consumer_too_far_behind_is_told_and_a_wake_comes_once():
    fanout = Fanout(capacity=3)
    slow = fanout.open([("member", 1), ("partner", 9)], "ada", limit=1)
    assert slow is not None
    fanout.wake()
    assert await slow.next(0.1) is WAKE and await slow.next(0.05) is None
    for n in range(5):
        fanout.publish([("member", 1)], n)
    with pytest.raises(Overflow):
        await slow.next(0.1)

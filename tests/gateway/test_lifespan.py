"""What the app does when it starts serving: the collector leaves start-up objects alone and
collects young objects rarely."""

from __future__ import annotations

import gc

from gateway.app import GC_YOUNG_THRESHOLD


async def test_start_up_freezes_the_heap_and_raises_the_young_threshold(app):
    before = gc.get_threshold()
    try:
        async with app.router.lifespan_context(app):
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
            assert gc.get_freeze_count() > 0
    finally:
        # Frozen objects stay frozen (unfreezing would hand the whole test process's heap to the
        # next full collection); only the thresholds go back.
        gc.set_threshold(*before)

"""Read-your-writes waits on the in-process runner (:mod:`streams.runner`), async flavour."""

from __future__ import annotations

import asyncio
import threading

from infra.log.memory import MemoryLog
from streams.runner import ProcessorLoop

GENEROUS_TIMEOUT_S = 60.0
"""Upper bound for things that take milliseconds (never asserted as a duration)."""


class IdleProcessor:
    name, topics = "idle", ["t"]

    def process(self, partition, events) -> int:
        return 0

    def checkpoint(self) -> int:
        return 3


def loop_at_checkpoint() -> ProcessorLoop:
    return ProcessorLoop(IdleProcessor(), MemoryLog())


async def test_a_reached_position_returns_at_once() -> None:
    assert await loop_at_checkpoint().wait_for_async(3, timeout_s=0)


async def test_a_waiter_wakes_when_its_position_is_processed_in_another_thread() -> None:
    loop = loop_at_checkpoint()
    waiters = [asyncio.ensure_future(loop.wait_for_async(p, GENEROUS_TIMEOUT_S)) for p in (4, 6, 9)]
    await asyncio.sleep(0)  # let them register
    threading.Thread(target=loop._advance, args=(6,)).start()
    assert await asyncio.wait_for(asyncio.gather(waiters[0], waiters[1]), GENEROUS_TIMEOUT_S) == [True, True]
    assert not waiters[2].done()  # position 9 is not processed yet
    loop._advance(9)
    assert await asyncio.wait_for(waiters[2], GENEROUS_TIMEOUT_S)


async def test_a_waiter_gives_up_after_its_timeout_and_a_later_advance_is_harmless() -> None:
    loop = loop_at_checkpoint()
    assert await loop.wait_for_async(5, timeout_s=0.01) is False
    loop._advance(5)  # resolves nothing: the timed-out future is already cancelled
    await asyncio.sleep(0)
    assert loop._async_waiters == []

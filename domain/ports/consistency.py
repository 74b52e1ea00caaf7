"""The consistency-waiter port: read-your-writes for the API, and the scheduler's own wait.

A waiter answers "have these processors applied the event store up to ``position``?" and can
block (bounded) until they have. One implementation per deployment lives with the runners
(:mod:`streams.consistency`): the embedded one follows the in-process runner, the distributed
one polls the processors' checkpoints in the read-model database for the log partition that
holds ``stream_id``'s events.

``follows(processors)`` says whether the waiter can tell at all (a waiter that cannot returns
``False`` from every wait at once, and callers then answer "accepted, poll later").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ConsistencyWaiter(Protocol):
    """Waits (bounded by ``timeout_s``, default the deployment's consistency timeout) until
    ``processors`` (default: all) have applied the event store up to ``position``."""

    def follows(self, processors: Sequence[str]) -> bool:
        """Whether this waiter can tell when ``processors`` have applied a position."""
        ...

    def wait_for(
        self,
        position: int,
        processors: Sequence[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """True once applied; False at the timeout or when the waiter cannot tell."""
        ...

    async def wait_for_async(
        self,
        position: int,
        processors: Sequence[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """:meth:`wait_for` for coroutines (does not block the event loop)."""
        ...

"""The consistency waiters (:class:`domain.ports.consistency.ConsistencyWaiter`), one per deployment.

* :class:`RunnerWaiter` — embedded: follows the in-process runner's progress (every processor,
  woken by the runner, no polling).
* :class:`CheckpointWaiter` — distributed (processors in Faust workers): polls the processors'
  checkpoints in the read-model database for the log partition that holds ``stream_id``'s
  events. Only processors that keep such checkpoints (``has_applied``) can be followed, and only
  when the caller names the written stream; otherwise every wait returns ``False`` at once.

The composition root picks one (:func:`infra.bootstrap.build_platform`); the API and the
scheduler see only the port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from streams.topics import topic_of_stream

CHECKPOINT_POLL_S = 0.01
"""How often :class:`CheckpointWaiter` polls the checkpoints (seconds)."""


class _Runner(Protocol):
    loops: dict

    def wait_for(self, position: int, processors: Sequence[str] | None, timeout_s: float) -> bool: ...

    async def wait_for_async(self, position: int, processors: Sequence[str] | None, timeout_s: float) -> bool: ...


class RunnerWaiter:
    """Embedded: waits on the in-process runner (``runner()`` is ``None`` until it started)."""

    def __init__(self, runner: Callable[[], _Runner | None], timeout_s: float):
        self.runner, self.timeout_s = runner, timeout_s

    def follows(self, processors: Sequence[str]) -> bool:
        runner = self.runner()
        return runner is not None and all(name in runner.loops for name in processors)

    def wait_for(self, position, processors=None, timeout_s=None, stream_id=None) -> bool:
        runner = self.runner()
        if runner is None:
            return False
        return runner.wait_for(position, processors, self.timeout_s if timeout_s is None else timeout_s)

    async def wait_for_async(self, position, processors=None, timeout_s=None, stream_id=None) -> bool:
        runner = self.runner()
        if runner is None:
            return False
        return await runner.wait_for_async(position, processors, self.timeout_s if timeout_s is None else timeout_s)


class _Checkpointed(Protocol):
    name: str

    def has_applied(self, partition: str, position: int) -> bool: ...


class CheckpointWaiter:
    """Distributed: polls the checkpoints of ``processors`` for ``stream_id``'s log partition.

    ``processors()`` lists the deployment's processors; ``partition_key(topic, key)`` is the
    log's (``"<topic>:<partition>"``, ``None`` until the topic exists).
    """

    def __init__(
        self,
        processors: Callable[[], Sequence[object]],
        partition_key: Callable[[str, str], str | None] | None,
        timeout_s: float,
        poll_s: float = CHECKPOINT_POLL_S,
    ):
        self.processors = processors
        self.partition_key, self.timeout_s, self.poll_s = partition_key, timeout_s, poll_s

    def _checkpointed(self) -> dict[str, _Checkpointed]:
        return {p.name: p for p in self.processors() if callable(getattr(p, "has_applied", None))}  # type: ignore[attr-defined]

    def follows(self, processors: Sequence[str]) -> bool:
        checkpointed = self._checkpointed()
        return self.partition_key is not None and all(name in checkpointed for name in processors)

    def wait_for(self, position, processors=None, timeout_s=None, stream_id=None) -> bool:
        names = list(processors or [getattr(p, "name", "") for p in self.processors()])
        if stream_id is None or not self.follows(names):
            return False
        checkpointed = self._checkpointed()
        waiting = [checkpointed[name] for name in names]
        topic = topic_of_stream(stream_id)
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            partition = self.partition_key(topic, stream_id)  # None until the relay created the topic
            if partition is not None and all(p.has_applied(partition, position) for p in waiting):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_s)

    async def wait_for_async(self, position, processors=None, timeout_s=None, stream_id=None) -> bool:
        """The polling runs in a worker thread."""
        return await asyncio.to_thread(self.wait_for, position, processors, timeout_s, stream_id)

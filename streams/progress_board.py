"""Processors' progress shared between two processes of one embedded deployment.

With ``FLEXLEDGER_PROCESSORS_PROCESS=true`` the processors run in a second process
(:mod:`infra.processes`) and the API process waits for read-your-writes on their progress. The
board is a small file mapped into both processes: one signed 64-bit slot per processor (in the
order of ``names``), holding the global position up to which that processor has applied the
store (a read-model transaction committed, or nothing of its own up to there), exactly what
:class:`streams.runner.Progress` holds in one process. Only the processors' process writes it;
an aligned 8-byte store is read whole by the other process.

* :class:`BoardFollower` — a :class:`~streams.follower.StoreFollower` that also posts its
  progress and rings the API process's doorbell (:mod:`streams.doorbell`);
* :class:`BoardMirror` — the API process's view: one :class:`~streams.runner.Progress` per
  processor, brought up by one thread that reads the board when the doorbell rings (at the
  latest every ``BOARD_FALLBACK_S``), with the
  runner's ``loops``/``wait_for``/``wait_for_async`` (so :class:`streams.consistency.RunnerWaiter`
  waits on it as on the in-process runner).
"""

from __future__ import annotations

import mmap
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from streams.doorbell import Doorbell
from streams.follower import EventFeed, StoreFollower
from streams.runner import Processor, Progress, wait_for_loops, wait_for_loops_async

SLOT = struct.Struct("<q")
BOARD_FALLBACK_S = 0.05
"""How often the API process reads the board without a ring (seconds)."""


class ProgressBoard:
    """One int64 slot per processor name in a mapped file (created zeroed by :meth:`create`)."""

    def __init__(self, path: Path, names: Sequence[str]):
        self.path, self.names = Path(path), list(names)
        self._slots = {name: i * SLOT.size for i, name in enumerate(self.names)}
        with self.path.open("r+b") as file:
            self._map = mmap.mmap(file.fileno(), SLOT.size * len(self.names))

    @classmethod
    def create(cls, path: Path, names: Sequence[str]) -> ProgressBoard:
        """A new board with every slot at 0 (an existing file is reset)."""
        Path(path).write_bytes(bytes(SLOT.size * len(names)))
        return cls(path, names)

    def post(self, name: str, position: int) -> None:
        SLOT.pack_into(self._map, self._slots[name], position)

    def read(self) -> dict[str, int]:
        return {name: SLOT.unpack_from(self._map, offset)[0] for name, offset in self._slots.items()}

    def close(self) -> None:
        self._map.close()


class BoardFollower(StoreFollower):
    """A store follower that posts its progress to the board (the processors' process)."""

    def __init__(self, processor: Processor, feed: EventFeed, board: ProgressBoard, bell: Doorbell, **options):
        super().__init__(processor, feed, **options)
        self.board, self.bell = board, bell
        board.post(processor.name, self.position)
        bell.ring()

    def _advance(self, position: int) -> None:
        before = self.position
        super()._advance(position)
        if self.position > before:
            self.board.post(self.processor.name, self.position)
            self.bell.ring()


class BoardMirror:
    """The processors' progress as the API process sees it (module docstring); a runner for waiters."""

    def __init__(self, board: ProgressBoard, bell: Doorbell, fallback_s: float = BOARD_FALLBACK_S):
        self.board, self.bell, self.fallback_s = board, bell, fallback_s
        self.loops = {name: _Mirrored(name) for name in board.names}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flexledger-progress-board", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self.bell.wait(self.fallback_s)

    def refresh(self) -> None:
        """Bring every mirrored progress up to the board (wakes the waiters it satisfies)."""
        for name, position in self.board.read().items():
            loop = self.loops[name]
            if position > loop.position:
                loop._advance(position)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self.bell.interrupt()
            self._thread.join(5)
            self._thread = None
        self.bell.close()

    def wait_for(self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0) -> bool:
        return wait_for_loops(self.loops, position, processors, timeout_s)

    async def wait_for_async(
        self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0
    ) -> bool:
        return await wait_for_loops_async(self.loops, position, processors, timeout_s)


class _Mirrored(Progress):
    """A processor's progress read off the board (``processor.name`` as the runners' loops have)."""

    def __init__(self, name: str):
        super().__init__(0)
        self.processor = SimpleNamespace(name=name)


__all__ = ["BoardFollower", "BoardMirror", "ProgressBoard"]

"""The rows a SQL event store committed last, kept to be read back without the database:
:class:`RecentRows` (see :meth:`infra.eventstore.sql.SqlEventStore.read_appended`)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

MAX_ROWS = 8_000
"""Rows kept at most (the event feed reads up to 2,000 events at a time, soon after their commit)."""

MAX_BYTES = 32 * 1024 * 1024
"""Bytes of data and metadata JSON kept at most (a bulk import's events hold up to 10,000 values)."""


class RecentRows:
    """The last committed rows of one store object, by global position, in the columns
    :func:`infra.eventstore.rows.row_to_event` reads (``global_position`` first, data and
    metadata JSON sixth and seventh, as stored).

    Only rows of committed transactions are added (a cache: nothing is lost with it), in
    position order; when more than ``max_rows`` rows or ``max_bytes`` bytes of data and metadata
    JSON are held, the oldest are dropped. Thread-safe.
    """

    def __init__(self, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES):
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self._lock = threading.Lock()
        self._by_position: dict[int, tuple] = {}
        self._order: deque[int] = deque()  # the positions held, oldest first
        self._bytes = 0  # data and metadata JSON held (shared metadata counted once per row)

    def add(self, rows: Iterable[tuple]) -> None:
        """Hold ``rows`` (committed, in ascending position order), dropping the oldest beyond the bounds."""
        with self._lock:
            for row in rows:
                self._by_position[row[0]] = row
                self._order.append(row[0])
                self._bytes += _size(row)
            while len(self._order) > self.max_rows or (self._bytes > self.max_bytes and self._order):
                self._bytes -= _size(self._by_position.pop(self._order.popleft()))

    def run_after(self, after_position: int, limit: int) -> list[tuple]:
        """The rows held at positions ``after_position + 1``, ``+ 2``, ... up to the first position
        not held (another process's event, or one dropped), at most ``limit``."""
        run: list[tuple] = []
        position = after_position + 1
        with self._lock:
            get = self._by_position.get
            while len(run) < limit and (row := get(position)) is not None:
                run.append(row)
                position += 1
        return run

    def __len__(self) -> int:
        return len(self._order)


def _size(row: tuple) -> int:
    return len(row[6]) + len(row[7])


__all__ = ["MAX_BYTES", "MAX_ROWS", "RecentRows"]

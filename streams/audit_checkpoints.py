"""Periodic signed checkpoints: the head hash, signed, appended to ``<home>/checkpoints.jsonl``.

:class:`CheckpointWriter` writes one checkpoint (:mod:`domain.audit_checkpoints`) whenever the
head moved since the last one, every ``interval_s`` (``FLEXLEDGER_AUDIT_CHECKPOINT_INTERVAL_S``,
default one hour; 0 = off). Copy the file off the machine: ``flexledger audit verify
--checkpoints checkpoints.jsonl`` proves history up to each checkpoint unchanged.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from domain.audit_checkpoints import make_checkpoint
from domain.ports.event_store import EventStore

log = logging.getLogger(__name__)


class CheckpointWriter:
    def __init__(self, store: EventStore, key, path: Path, interval_s: float):
        self.store, self.key, self.path, self.interval_s = store, key, path, interval_s
        self._last_position: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write_once(self) -> dict | None:
        """Append a checkpoint if the head moved since the last one; returns it (or ``None``)."""
        if self.store.head_position() == self._last_position:
            return None
        checkpoint = make_checkpoint(self.store, self.key)
        with self.path.open("a") as out:
            out.write(json.dumps(checkpoint) + "\n")
        self._last_position = checkpoint["position"]
        return checkpoint

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.write_once()
            except Exception:  # noqa: BLE001 - logged; tried again at the next interval
                log.exception("could not write an audit checkpoint")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

"""The embedded deployment on both cores: the API in one process, the processors in a second.

With ``FLEXLEDGER_PROCESSORS_PROCESS=true`` (SQLite event store, in-process log),
:meth:`infra.bootstrap.Platform.start` in the API process starts :class:`ProcessRunner` instead
of the processor threads: it spawns ``python -m infra.processes`` with the same settings, which
runs every processor (each following the event store from its own checkpoint, as in one
process), the device gateways, the webhook worker and the audit checkpoints. So the API's
request handling and the projections no longer share one interpreter lock.

* Durability is unchanged: the API process appends (group commit, ``synchronous=FULL``) and
  acknowledges only fsynced events; the processors' process only reads them (and appends its
  own, the scheduler's and forecaster's, with the same store code).
* Read-your-writes: the processors post their progress to a mapped file
  (:mod:`streams.progress_board`) and ring a doorbell (a pipe, :mod:`streams.doorbell`); the
  API waits on a mirror of it exactly as on the in-process runner. Each process rings the
  other's store doorbell after its commits and then reads SQLite's ``data_version``
  (:meth:`infra.eventstore.sqlite.SqliteEventStore.watch_other_processes`), so followers and
  waiters on appends hear of the other process's events without polling.
* Supervision: the API process restarts the processors' process if it dies (it resumes from
  the checkpoints; nothing is lost), and stops it when the API stops; the child also exits when
  its parent is gone. ``make run`` stays one command.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.heap import freeze_start_up_heap
from infra.settings import Settings
from streams.doorbell import Doorbell
from streams.progress_board import BoardMirror, ProgressBoard

log = logging.getLogger(__name__)
SETTINGS_ENV = "FLEXLEDGER_PROCESSORS_SETTINGS"
BELLS_ENV = "FLEXLEDGER_PROCESSORS_BELLS"
"""The child's ends of the pipes: store (read, write), progress (write)."""
ROOT = Path(__file__).resolve().parent.parent


def board_path(settings: Settings) -> Path:
    return settings.home / "processors.progress"


class ProcessRunner:
    """Runs the processors in a child process and mirrors their progress (module docstring)."""

    def __init__(self, settings: Settings, names: Sequence[str], store: Any, restart_delay_s: float = 1.0):
        """``store``: this process's SQLite event store (maybe in its telemetry decorator)."""
        self.settings, self.restart_delay_s, self.store = settings, restart_delay_s, store
        # the parent keeps every end open (no EOF when a child dies; a restarted child inherits them)
        to_api, to_child, progress = Doorbell.pipe(), Doorbell.pipe(), Doorbell.pipe()
        self._child_fds = (to_child[0], to_api[1], progress[1])
        self._fds = (*to_api, *to_child, *progress)
        store.watch_other_processes(Doorbell(read_fd=to_api[0]), Doorbell(write_fd=to_child[1]))
        self.board = ProgressBoard.create(board_path(settings), names)
        self.mirror = BoardMirror(self.board, Doorbell(read_fd=progress[0]))
        self.loops = self.mirror.loops
        self.child: subprocess.Popen | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self.child = self._spawn()
        self.mirror.start()
        self._supervisor = threading.Thread(target=self._supervise, name="flexledger-processors-process", daemon=True)
        self._supervisor.start()

    def _spawn(self) -> subprocess.Popen:
        env = {**os.environ, SETTINGS_ENV: self.settings.model_dump_json()}
        env[BELLS_ENV] = ",".join(map(str, self._child_fds))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "infra.processes", str(self.board.path)]
        return subprocess.Popen(command, env=env, pass_fds=self._child_fds)

    def _supervise(self) -> None:
        while not self._stop.wait(0.2):
            if self.child is not None and self.child.poll() is not None and not self._stop.is_set():
                log.error("the processors' process exited (%s); restarting it", self.child.returncode)
                self._stop.wait(self.restart_delay_s)
                if not self._stop.is_set():
                    self.restarts += 1
                    self.child = self._spawn()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout_s)
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait(timeout_s)
        self.mirror.stop()
        self.store.stop_watching()  # before the pipes close: their numbers may be reused
        for fd in self._fds:
            os.close(fd)

    def wait_for(self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0) -> bool:
        return self.mirror.wait_for(position, processors, timeout_s)

    async def wait_for_async(
        self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0
    ) -> bool:
        return await self.mirror.wait_for_async(position, processors, timeout_s)


def run_processors(board: Path) -> None:
    """The child: every processor of the platform, posting progress to ``board``, until SIGTERM
    or until the parent is gone."""
    from infra.bootstrap import build_platform

    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    platform = build_platform(settings)
    store_in, store_out, progress_out = (int(fd) for fd in os.environ[BELLS_ENV].split(","))
    platform.store.watch_other_processes(Doorbell(read_fd=store_in), Doorbell(write_fd=store_out))
    platform.progress_board = ProgressBoard(board, [p.name for p in platform.processors])
    platform.progress_bell = Doorbell(write_fd=progress_out)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    parent = os.getppid()
    freeze_start_up_heap()
    try:
        platform.start()
        while not stop.wait(0.5) and os.getppid() == parent:
            pass
    finally:
        platform.close()


if __name__ == "__main__":
    run_processors(Path(sys.argv[1]))

"""A doorbell between two processes: one end rings (writes a byte to a pipe), the other waits.

Used by the two-process embedded deployment (:mod:`infra.processes`) so that neither process
has to poll the other at a short interval: a ring wakes the waiter at once, and a waiter also
wakes after its timeout (a bounded fall-back poll). Rings are never lost (a full pipe means one
is already pending) and never block the ringer (non-blocking write).
"""

from __future__ import annotations

import contextlib
import os
import select


class Doorbell:
    """The ``read_fd`` end waits, the ``write_fd`` end rings; either may be ``None`` (unused here)."""

    def __init__(self, read_fd: int | None = None, write_fd: int | None = None):
        self.read_fd, self.write_fd = read_fd, write_fd
        if write_fd is not None:
            os.set_blocking(write_fd, False)
        self._wake: tuple[int, int] | None = None  # this process's own pipe: interrupt() a waiter
        if read_fd is not None:
            self._wake = os.pipe()
            os.set_blocking(self._wake[1], False)

    @classmethod
    def pipe(cls) -> tuple[int, int]:
        """A new pipe's (read fd, write fd), inheritable by a child process."""
        read_fd, write_fd = os.pipe()
        for fd in (read_fd, write_fd):
            os.set_inheritable(fd, True)
        return read_fd, write_fd

    def ring(self) -> None:
        if self.write_fd is not None:
            with contextlib.suppress(BlockingIOError, OSError):  # full: a ring is pending anyway
                os.write(self.write_fd, b"\1")

    def wait(self, timeout_s: float) -> bool:
        """Block until rung or ``timeout_s`` passed; True when rung (pending rings are consumed)."""
        if self.read_fd is None or self._wake is None:
            return False
        ready, _, _ = select.select([self.read_fd, self._wake[0]], [], [], timeout_s)
        for fd in ready:
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(fd, 4096)
        return self.read_fd in ready

    def interrupt(self) -> None:
        """Wake a waiter of this process at once (to stop it), without a ring from the other end."""
        if self._wake is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake[1], b"\1")

    def close(self) -> None:
        """Close this process's own wake-up pipe (the pipe ends given belong to their owner)."""
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

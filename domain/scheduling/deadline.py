"""The wall clock of one solve, shared by every stage of every solve path, and HiGHS run under it.

A solve (:func:`.milp.solve`: the per-step model or the fleet solver) gets one :class:`Deadline`
when it starts. Its *hard end* is the time limit less a reserve for reading the schedule out
(:data:`READOUT_SHARE` of the limit, or the ``readout_s`` the solve expects reading out to take
when that is more: the fleet solver's 5,000 EVs take about 0.1 s). Every solver stage goes through :func:`run_guarded`:

* HiGHS gets its own ``time_limit`` (the stage's budget, never past the hard end);
* HiGHS does not check that limit everywhere: a MIP's presolve and its first primal heuristics
  (feasibility jump) ran up to 2 s past it on a 1,000-EV fleet. So HiGHS runs in a worker
  thread (highspy releases the GIL) and the solve waits for it at most until the hard end. A
  stage still running then is *abandoned*: asked to stop (HiGHS' user interrupt, checked by its
  simplex, IPM and MIP loops) and left to finish on its own in the background (its own time
  limit stops it soon after); the solve goes on with the best schedule of the earlier stages
  (each path keeps one: the per-step model's LP commitment, the fleet's start or rounded
  schedule). An abandoned stage's HiGHS instance is never touched again.

Each stage is recorded (:class:`Stage`): when it started (s since the solve started), the budget
HiGHS was given, how long the solve was prepared to wait, whether it finished. The result
carries them (:attr:`.result.ScheduleResult.stages`), so the time limit's arithmetic can be
checked without timing anything: every stage starts + waits within the hard end.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy

READOUT_SHARE = 0.05
"""Share of the time limit kept back from the solvers for reading the schedule out."""
MIN_TIME_S = 0.01
"""The least time limit handed to HiGHS (it rejects 0)."""
GRACE_S = 0.02
"""How long past its own time limit an impatient stage (``Deadline.run(patient=False)``) is waited for."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One solver call: ``name``; ``started_s`` since the solve started; ``budget_s`` the time
    limit HiGHS was given; ``wait_s`` the longest the solve would wait for it (up to the hard
    end); ``elapsed_s`` how long it was waited for; ``finished``: False when it was abandoned."""

    name: str
    started_s: float
    budget_s: float
    wait_s: float
    elapsed_s: float
    finished: bool


class Deadline:
    """The wall clock of one solve of ``limit_s`` seconds (see the module docstring).

    ``left(share)``: what remains (s) of ``share`` of the limit; ``hard_left()``: what remains
    until the hard end. ``reached``: the limit cut something short (a solver stopped at it, a
    stage was skipped or abandoned). ``solver_s``: time spent waiting for HiGHS.
    """

    def __init__(self, limit_s: float, started: float | None = None,
                 clock: Callable[[], float] = time.perf_counter, readout_s: float = 0.0) -> None:  # fmt: skip
        self.clock = clock
        self.hard_end_s = limit_s - max(READOUT_SHARE * limit_s, min(readout_s, 0.5 * limit_s))
        """Seconds after the start at which no solver is waited for any more."""
        """Seconds on a monotonic clock (``time.perf_counter``; a test may drive the deadline with its own)."""
        self.start = clock() if started is None else started
        self.limit_s = limit_s
        self.solver_s = 0.0
        self.reached = False
        self.stages: list[Stage] = []

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.start

    def left(self, share: float = 1.0) -> float:
        return self.limit_s * share - self.elapsed_s

    def hard_left(self) -> float:
        """Seconds until the hard end (the limit less the read-out reserve); may be negative."""
        return self.hard_end_s - self.elapsed_s

    def run(self, name: str, h: highspy.Highs, wanted_s: float, patient: bool = True) -> bool:
        """Run the loaded ``h`` with a time limit of ``wanted_s`` cut to the hard end, waiting for
        it until the hard end at most (``patient=False``: until its own limit, plus
        :data:`GRACE_S`, at most: for an LP whose overrun would leave no time for what follows);
        records the :class:`Stage`. Returns whether it finished (False: abandoned, do not use
        ``h`` again)."""
        t0 = self.clock()
        started_s = t0 - self.start  # one reading of the clock for the start, the budget and the wait
        hard_left_s = self.hard_end_s - started_s
        budget_s = max(min(wanted_s, hard_left_s), MIN_TIME_S)
        wait_s = max(hard_left_s if patient else min(hard_left_s, budget_s + GRACE_S), 0.0)
        finished = run_guarded(h, budget_s, wait_s)
        elapsed_s = self.clock() - t0
        self.solver_s += elapsed_s
        self.reached |= not finished
        self.stages.append(Stage(name, started_s, budget_s, wait_s, elapsed_s, finished))
        return finished


class _Worker:
    """A thread that runs HiGHS instances one after the other; idle workers wait in ``_IDLE``.

    Reused, because a fresh thread per solve cost about 2 ms (HiGHS sets up its scheduler per
    thread): as much as a whole 96-step battery LP. A worker whose run was abandoned rejoins the
    idle ones when HiGHS returns."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[highspy.Highs, threading.Event]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="highs-worker", daemon=True).start()

    def _loop(self) -> None:
        while True:
            h, done = self.jobs.get()
            try:
                h.run()
            finally:
                done.set()
                del h
            with _LOCK:
                if len(_IDLE) >= MAX_IDLE_WORKERS:
                    return
                _IDLE.append(self)


_LOCK = threading.Lock()
_IDLE: list[_Worker] = []
MAX_IDLE_WORKERS = 4


def _forget_workers_after_fork() -> None:
    """A forked child has none of the parent's threads: its idle list must not name them."""
    global _LOCK
    _LOCK = threading.Lock()
    _IDLE.clear()


os.register_at_fork(after_in_child=_forget_workers_after_fork)


def _start(h: highspy.Highs) -> threading.Event:
    """Run ``h`` on an idle worker (a new one when none is idle); the event is set when it returns."""
    with _LOCK:
        worker = _IDLE.pop() if _IDLE else None
    worker = worker or _Worker()
    done = threading.Event()
    worker.jobs.put((h, done))
    return done


def run_guarded(h: highspy.Highs, time_limit_s: float, wait_s: float) -> bool:
    """Run ``h`` with HiGHS' ``time_limit`` ``time_limit_s`` in a worker thread, waiting at most
    ``wait_s`` (wall) for it. True when it finished; else it was asked to stop (user interrupt)
    and left to end in the background: the caller must not use ``h`` again.

    Our own threads, not highspy's ``startSolve``: its locks are class attributes, shared by every
    instance, so an abandoned run would block every later one."""
    h.setOptionValue("time_limit", max(time_limit_s, MIN_TIME_S))
    h.HandleUserInterrupt = True  # measured: no cost on the fleet solver's many small LPs
    done = _start(h)
    if done.wait(max(wait_s, 0.0)):
        return True
    h.cancelSolve()
    return False

"""The garbage collector in long-running processes: the start-up heap is frozen.

A server process imports some 700,000 objects the collector tracks (modules, functions, pydantic
and SQLAlchemy schemas) that live as long as the process. CPython's full collections traverse
every tracked object, and they come more often the more objects survive, so a busy server spent
a sixth of its CPU re-checking its imports (``bench/forecast_throughput.py``: 1,749-1,846 readings
per CPU-second before, 2,118-2,160 after, alternating). :func:`freeze_start_up_heap` moves what
exists at start-up into the permanent generation (``gc.freeze``): collections then look only at
objects allocated since. Called once by the functions that run a process until it ends
(``infra.http_server.serve``, ``infra.worker.run_worker``, the processors' second process in
``infra.processes``), never by library code or tests, as cyclic garbage that is frozen is
never freed.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Collect what is garbage now, then freeze every object that remains (``gc.freeze``)."""
    gc.collect()
    gc.freeze()

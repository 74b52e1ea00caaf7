"""How the forecaster's kernels are compiled (numba ``@njit``), and loading them before the first reading.

Compiled code is cached on disk (``cache=True``: next to the kernel's module, or numba's
fallback directory such as ``~/.cache/numba``); where no cache directory is writable the
kernels are compiled in each process. Loading them costs a process about 0.2 s of CPU on the
first call with a warm cache, and about 2 s once per machine (and per change of a kernel) to
compile them: :func:`warm_up` pays that at start-up instead of on the first reading.
"""

from __future__ import annotations

from functools import cache

from numba import njit


def compiled(function, **options):
    """``function`` compiled by numba (``options``: njit's, e.g. ``fastmath``), cached on disk
    where a cache directory is writable."""
    try:
        return njit(cache=True, **options)(function)
    except RuntimeError:  # no writable cache location: compile per process
        return njit(**options)(function)


@cache  # once per process
def warm_up() -> None:
    """Load (or compile) every kernel of the forecaster, once per process: a small forecaster
    learns four days of a made-up hourly load and forecasts from them, as the service does."""
    from datetime import UTC, datetime, timedelta

    from domain.forecasting.forecaster import ForecasterConfig, SensorForecaster

    hour = timedelta(hours=1)
    forecaster = SensorForecaster(ForecasterConfig(resolution=hour, country=None, value_range=(0.0, None)))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for h in range(96):
        forecaster.observe_all(start + h * hour, float((h * 7) % 24))

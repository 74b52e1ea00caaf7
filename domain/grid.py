"""Time grids: a sensor's values sit on steps of its resolution, counted from local midnight.

One rule, used by the commands (readings, triggers), the API's validation and the scheduler:
for resolutions up to a day, the steps are multiples of the resolution from midnight in the
sensor's timezone (so hourly steps in India, UTC+05:30, fall on :30 UTC); longer resolutions
(weeks, ...) have no daily grid, any start is on it, and the next step after a moment is counted
from the Unix epoch.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


def on_grid(moment: datetime, resolution: timedelta, timezone: str = "UTC") -> bool:
    """True when ``moment`` is a step boundary of a sensor with ``resolution`` in ``timezone``
    (always true for a resolution of zero, an instantaneous sensor, or over a day)."""
    if resolution.total_seconds() <= 0:
        return True
    local = moment.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (local - midnight) if resolution <= DAY else timedelta(0)
    return not offset % resolution


def next_on_grid(moment: datetime, resolution: timedelta, timezone: str = "UTC") -> datetime:
    """The first step boundary at or after ``moment`` on the grid of ``resolution`` in ``timezone``
    (in ``moment``'s timezone); over a day, multiples of the resolution from the epoch."""
    if resolution > DAY:
        step = resolution.total_seconds()
        return datetime.fromtimestamp(math.ceil(moment.timestamp() / step) * step, tz=moment.tzinfo)
    local = moment.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = math.ceil((local - midnight) / resolution)
    return (midnight + steps * resolution).astimezone(moment.tzinfo)

"""Which beliefs are measurements: the data-source types of the platform's own predictions and plans.

A ``SensorDataRecorded`` carries its source's type (``source_type``). The forecaster's beliefs
(``forecaster``) and the scheduler's (``scheduler``: planned power and state of charge) are
predictions or plans about a sensor, never what was metered; everything else (``user``,
``device``, ``import``, ...) is taken as measured. Views of metered energy (MyEMS meters and
virtual meters, charge sessions) and state-of-charge triggers count measurements only.
"""

from __future__ import annotations

from domain.events import RecordedEvent

NOT_MEASURED_SOURCE_TYPES = frozenset({"forecaster", "scheduler"})
"""Source types whose beliefs are predictions or plans, not measurements."""


def is_prediction_or_plan(recorded: RecordedEvent) -> bool:
    """A ``SensorDataRecorded`` of the platform's forecaster or scheduler, no measurement, told
    from its stored data (no decoding)."""
    return recorded.type == "SensorDataRecorded" and recorded.data.get("source_type") in NOT_MEASURED_SOURCE_TYPES

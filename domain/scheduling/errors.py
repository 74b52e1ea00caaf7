"""Errors raised while turning flex-model / flex-context input into a scheduling problem."""

from __future__ import annotations


class FlexModelError(ValueError):
    """Invalid flex-model or flex-context input.

    ``field`` names the offending field as a path into the request, e.g.
    ``"flex-model[0].soc-max"`` or ``"flex-context.consumption-price"``; ``code`` is a stable
    machine code (one of the ``*`` constants below, or FlexMeasures' ``INVALID_UNIT``).
    """

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message


MISSING_FIELD = "MISSING_FIELD"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
INVALID_UNIT = "INVALID_UNIT"
INVALID_VALUE = "INVALID_VALUE"
INVALID_DATETIME = "INVALID_DATETIME"
INCONSISTENT = "INCONSISTENT"
UNRESOLVED_SENSOR = "UNRESOLVED_SENSOR"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class ScheduleError(RuntimeError):
    """The solver returned no usable solution (e.g. time limit hit before any incumbent).

    ``status`` is the solver status name. The scheduler never substitutes an all-zero schedule.
    """

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status

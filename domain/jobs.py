"""Jobs: asynchronous work requested through the API (schedules, forecasts).

A job lives in stream ``job-<uuid>``: ``JobRequested`` when the API accepts it, then the
processor that does the work appends ``JobFinished`` (with a result reference) or
``JobFailed`` (with the reason). Status names follow FlexMeasures' job API (rq):
QUEUED -> FINISHED | FAILED.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from domain.events import DomainEvent, register_event

JobKind = Literal["schedule", "forecast"]
QUEUED, STARTED, FINISHED, FAILED = "QUEUED", "STARTED", "FINISHED", "FAILED"


def job_stream(job_id: uuid.UUID | str) -> str:
    return f"job-{job_id}"


@register_event
class JobRequested(DomainEvent):
    """A client asked for work. ``params`` holds the validated request (JSON-able)."""

    job_id: uuid.UUID
    kind: JobKind
    asset_id: int | None = None
    sensor_id: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)


@register_event
class JobFinished(DomainEvent):
    """The work is done; ``result`` says where its output is (e.g. the schedule's sensors)."""

    job_id: uuid.UUID
    message: str = "Job finished."
    result: dict[str, Any] = Field(default_factory=dict)


@register_event
class JobFailed(DomainEvent):
    """The work failed; ``reason`` is for humans, ``code`` is stable."""

    job_id: uuid.UUID
    code: str
    reason: str

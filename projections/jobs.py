"""Read model of jobs: one row per job with its status, message and result."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.events import RecordedEvent
from domain.jobs import FAILED, FINISHED, QUEUED, JobFailed, JobFinished, JobRequested

metadata = sa.MetaData()
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("asset_id", sa.Integer),
    sa.Column("sensor_id", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("requested_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)


class JobsProjection:
    name = "jobs"
    event_types = frozenset({"JobRequested", "JobFinished", "JobFailed"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event, at = recorded.decode(), recorded.metadata.recorded_at.isoformat()
            if isinstance(event, JobRequested):
                conn.execute(
                    jobs.insert().values(
                        id=str(event.job_id), kind=event.kind, asset_id=event.asset_id, sensor_id=event.sensor_id,
                        status=QUEUED, message="Job is queued.", params=event.params, result={},
                        requested_at=at, updated_at=at,
                    )
                )
            elif isinstance(event, JobFinished):
                conn.execute(
                    jobs.update().where(jobs.c.id == str(event.job_id))
                    .values(status=FINISHED, message=event.message, result=event.result, updated_at=at)
                )
            elif isinstance(event, JobFailed):
                conn.execute(
                    jobs.update().where(jobs.c.id == str(event.job_id))
                    .values(status=FAILED, message=event.reason, result={"code": event.code}, updated_at=at)
                )


def job_by_id(conn: Connection, job_id: str) -> dict | None:
    row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return dict(row) if row else None

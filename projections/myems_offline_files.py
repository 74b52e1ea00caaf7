"""Read model of MyEMS offline meter files (issue 14; see :mod:`domain.myems_offline_files`):
one row per file with its upload time (epoch µs, UTC), status and readings (the content stays in
the event store)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import myems_offline_files as of
from domain.beliefs import to_epoch_us
from domain.events import RecordedEvent

metadata = sa.MetaData()
myems_offline_files = sa.Table(
    "myems_offline_meter_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("upload_us", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("readings", sa.Integer, nullable=False),
)


class MyEmsOfflineFilesProjection:
    name = "myems_offline_files"
    event_types = frozenset(
        {"MyEmsOfflineMeterFileUploaded", "MyEmsOfflineMeterFileProcessed", "MyEmsOfflineMeterFileDeleted"}
    )
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            row = myems_offline_files.c.id == event.file_id
            if isinstance(event, of.MyEmsOfflineMeterFileUploaded):
                conn.execute(myems_offline_files.delete().where(row))  # idempotent on replay
                conn.execute(
                    myems_offline_files.insert().values(
                        id=event.file_id,
                        account_id=event.account_id,
                        uuid=str(event.uuid),
                        file_name=event.file_name[:255],
                        upload_us=to_epoch_us(recorded.metadata.recorded_at),
                        status="new",
                        message=None,
                        readings=0,
                    )
                )
            elif isinstance(event, of.MyEmsOfflineMeterFileProcessed):
                conn.execute(
                    myems_offline_files.update()
                    .where(row)
                    .values(status=event.status, message=event.message, readings=event.readings)
                )
            elif isinstance(event, of.MyEmsOfflineMeterFileDeleted):
                conn.execute(myems_offline_files.delete().where(row))


def files(conn: Connection, account_id: int | None) -> list[dict]:
    query = sa.select(myems_offline_files).order_by(myems_offline_files.c.id)
    if account_id is not None:
        query = query.where(myems_offline_files.c.account_id == account_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def file_by_id(conn: Connection, file_id: int) -> dict | None:
    row = conn.execute(sa.select(myems_offline_files).where(myems_offline_files.c.id == file_id)).mappings().first()
    return dict(row) if row else None

"""Platform administration (admin role only): the state of every read model and processor."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ReadConn, Services, User
from api.errors import ApiError
from projections.base import count_failures, list_failures

router = APIRouter(prefix="/api/v3_0/admin", tags=["admin"])


def require_admin(user) -> None:
    if not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "only admins may use this endpoint")


@router.get("/projections")
def projections_status(
    user: User, conn: ReadConn, services: Services, failures_limit: int = Query(20, ge=0, le=1000)
) -> dict:
    """Each processor's checkpoint and lag behind the event store, and the events each
    projection skipped because it could not apply them (``failures``: position, event id,
    event type, stream, error; newest first, at most ``failures_limit`` per projection)."""
    require_admin(user)
    head = services.consistency.store.head_position()
    counts = count_failures(conn)
    processors = []
    for processor in services.processor_checkpoints():
        checkpoint = processor.checkpoint
        entry = {"name": processor.name, "checkpoint": checkpoint, "head": head, "lag": max(head - checkpoint, 0)}
        if processor.projection is not None:
            entry["projection"] = processor.projection
            entry["failure_count"] = counts.get(processor.projection, 0)
            entry["failures"] = [_failure_json(f) for f in list_failures(conn, processor.projection, failures_limit)]
        processors.append(entry)
    return {"head": head, "processors": processors}


def _failure_json(row: dict) -> dict:
    return {**row, "failed_at": row["failed_at"].isoformat() if row["failed_at"] else None}

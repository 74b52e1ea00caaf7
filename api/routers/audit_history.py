"""The auditor's history, read from the event store (read only, for every authenticated user).

* ``GET /api/audit/events`` — global history, paged by position (``after``; the answer's
  ``next`` is the ``after`` of the next page), filtered by ``type`` (repeatable), ``actor``,
  ``correlation_id``, ``since``/``until`` (recorded-at, timezone-aware).
* ``GET /api/audit/streams/{stream_id}/events`` — one stream (``asset-3``, ``sensor-5``,
  ``sensordata-5``, ``udi-3``, ``schedule-<uuid>``, ``job-<uuid>``, ...), paged by stream
  revision (``from_revision``; ``next`` is the next page's), same filters.
* ``GET /api/audit/events/{event_id}`` — one event.
* ``GET /api/audit/events/{event_id}/causation`` — its causes (root first) and effects.
* ``GET /api/audit/verify`` — recompute the tamper-evidence hash chain (admins, auditors);
  ``?stream=ID``: only that stream's events, each checked against the chain.
* ``GET /api/audit/checkpoint`` — the head hash signed with the platform's Ed25519 key;
  ``POST /api/audit/checkpoint/verify`` — check one later (admins, auditors).

Users see their account's events; admins and auditors all (:mod:`api.stream_access`).
Each event: ``id`` (global position), ``event_id``, ``stream_id``, ``stream_revision``,
``type``, ``schema_version``, ``data`` (credentials removed) and ``metadata`` (actor, source,
correlation_id, causation_id, recorded_at, traceparent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.audit_services import AuditServices
from api.auth import CurrentUser
from api.deps import Audit, User
from api.errors import ApiError
from api.stream_access import StreamReader, event_visibility, may_see_owner
from domain import history
from domain.audit_chain import MAX_VERIFIED, verify_chain, verify_stream
from domain.audit_checkpoints import make_checkpoint, verify_checkpoint
from domain.disclosure import public_view

router = APIRouter(prefix="/api/audit", tags=["audit"])

Types = Annotated[list[str] | None, Query(alias="type", description="event types (repeat the parameter)")]


@dataclass(frozen=True)
class PageQuery:
    """The paging and filter parameters both history routes take."""

    limit: int
    filter: history.HistoryFilter


def _page_query(
    limit: Annotated[int, Query(ge=1, le=history.MAX_PAGE)] = 100,
    types: Types = None,
    actor: str | None = None,
    correlation_id: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> PageQuery:
    return PageQuery(limit, history.HistoryFilter(history.visible_types(types), actor, correlation_id, since, until))


Paged = Annotated[PageQuery, Depends(_page_query)]


def _page(page: history.HistoryPage) -> dict:
    return {"events": [public_view(e) for e in page.events], "next": page.next_position, "complete": page.complete}


def _require_reader_of_all(user: CurrentUser, what: str) -> None:
    if not user.can_read_all:
        raise ApiError(403, "INVALID_SENDER", f"only admins and auditors {what}")


@router.get("/events")
def global_events(user: StreamReader, audit: Audit, paged: Paged, after: Annotated[int, Query(ge=0)] = 0) -> dict:
    """Global history in store order, paged by position (``after``; ``next`` is the next page's),
    filtered by ``type``, ``actor``, ``correlation_id``, ``since``/``until``; only events the caller may see."""
    visible = event_visibility(user, audit.resolver)
    return _page(history.global_history(audit.store, after, paged.limit, paged.filter, visible))


def _visible_stream(audit: AuditServices, user: CurrentUser, stream_id: str) -> None:
    if audit.store.stream_revision(stream_id) is None:
        raise ApiError(404, "UNKNOWN_STREAM", f"no stream {stream_id!r}", "stream_id")
    if not may_see_owner(user, audit.resolver.owner_of_stream(stream_id)):
        raise ApiError(403, "INVALID_SENDER", "this stream belongs to another account", "stream_id")


@router.get("/streams/{stream_id}/events")
def stream_events(
    stream_id: str, user: StreamReader, audit: Audit, paged: Paged, from_revision: Annotated[int, Query(ge=0)] = 0
) -> dict:
    """One stream's events (``asset-3``, ``sensordata-5``, ``schedule-<uuid>``, ...) paged by revision
    (``from_revision``), with the same filters; 404 for a stream the caller may not see."""
    _visible_stream(audit, user, stream_id)
    return _page(history.stream_history(audit.store, stream_id, from_revision, paged.limit, paged.filter))


def _visible_event(audit: AuditServices, user: CurrentUser, event_id: uuid.UUID):
    event = audit.store.get_event(event_id)
    if event is None:
        raise ApiError(404, "UNKNOWN_EVENT", f"no event {event_id}", "event_id")
    if not may_see_owner(user, audit.resolver.owner_of(event)):
        raise ApiError(403, "INVALID_SENDER", "this event belongs to another account", "event_id")
    return event


@router.get("/events/{event_id}")
def one_event(event_id: uuid.UUID, user: StreamReader, audit: Audit) -> dict:
    """One event by its event id (UUID): data (credentials removed), metadata and global position."""
    return public_view(_visible_event(audit, user, event_id))


@router.get("/events/{event_id}/causation")
def causation(event_id: uuid.UUID, user: StreamReader, audit: Audit) -> dict:
    """The event, what caused it (root first) and what it caused (in order), as far as visible."""
    _visible_event(audit, user, event_id)
    chain = history.causation_chain(audit.store, event_id, event_visibility(user, audit.resolver))
    return {
        "event": public_view(chain.event),
        "causes": [public_view(e) for e in chain.causes],
        "effects": [public_view(e) for e in chain.effects],
        "effects_complete": chain.effects_complete,
        "hidden": chain.hidden,
    }


@router.get("/verify")
def verify(
    user: User,
    audit: Audit,
    limit: Annotated[int, Query(ge=1, le=MAX_VERIFIED)] = MAX_VERIFIED,
    stream: Annotated[str | None, Query(max_length=255, description="verify only this stream's events")] = None,
) -> dict:
    """Recompute the hash chain (admins and auditors): ``ok``, the first broken link, the head hash.

    ``stream``: check that stream's events against the chain (each one's hash from its
    predecessor's, and no gap in its revisions) instead of the whole history."""
    _require_reader_of_all(user, "verify the whole history")
    if stream is not None:
        if audit.store.stream_revision(stream) is None:
            raise ApiError(404, "UNKNOWN_STREAM", f"no stream {stream!r}", "stream")
        report = verify_stream(audit.store, stream, limit)
        return {"stream": stream, **_report(report)}
    return _report(verify_chain(audit.store, limit))


def _report(report) -> dict:
    return {
        "ok": report.ok,
        "checked": report.checked,
        "complete": report.complete,
        "head_position": report.head_position,
        "head_hash": report.head_hash,
        "broken": report.broken,
    }


@router.get("/checkpoint")
def checkpoint(user: User, audit: Audit) -> dict:
    """A checkpoint of the current head hash, signed with the platform's Ed25519 key (admins, auditors)."""
    _require_reader_of_all(user, "take checkpoints")
    return make_checkpoint(audit.store, audit.signing_key())


class CheckpointBody(BaseModel):
    position: int = Field(ge=0)
    head_hash: str
    created_at: str
    algorithm: str = "Ed25519"
    public_key: str
    signature: str


@router.post("/checkpoint/verify")
def verify_a_checkpoint(body: CheckpointBody, user: User, audit: Audit) -> dict:
    """Does history up to the checkpoint's position still hash to its head hash? (admins, auditors; reads only)"""
    _require_reader_of_all(user, "verify checkpoints")
    ok, reason = verify_checkpoint(audit.store, body.model_dump())
    return {"ok": ok, "reason": reason, "public_key": body.public_key}

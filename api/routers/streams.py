"""Stream subscriptions for third parties: Server-Sent Events and WebSocket.

* ``GET /api/v3_0/streams/events`` — SSE (``text/event-stream``). Each message: ``id`` = the
  event's global position, ``data`` = the event as JSON (see :func:`domain.disclosure.public_view`).
* ``WS /api/v3_0/streams/ws`` — the same messages as JSON text frames (``id`` inside).

Both take ``type`` (repeatable), ``asset`` and ``sensor`` (repeatable ids, checked against the
caller's account), ``since``/``until`` (recorded-at, timezone-aware) and ``from`` (a global
position: start after it; default: the head, i.e. only new events). ``Last-Event-ID`` (sent by
SSE clients on reconnect) wins over ``from``. Catch-up from history then live, in order,
without gaps or duplicates. Auth: ``Authorization: <token>``; a subscriber sees its account's
events (admins, auditors: all); credentials are never sent.

A subscriber that stalls (a send blocked longer than ``FLEXLEDGER_STREAM_SEND_TIMEOUT_S``) is
disconnected; one that falls more than ``FLEXLEDGER_STREAM_MAX_LAG_S`` behind gets an SSE event
``lagging`` (WebSocket: close code 4008) with ``{"resume_from": <position>}`` and is
disconnected. Either way it resumes from the last id it received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, WebSocket
from pydantic import AwareDatetime
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.concurrency import run_in_threadpool

from api.audit_services import AuditServices, StreamServices
from api.auth import CurrentUser
from api.deps import Audit, User
from api.errors import ApiError
from api.stream_access import StreamReader, check_entities, issue_stream_key, may_see_owner, reader_of
from api.subscriptions import Lagging, StreamStats, Subscription, SubscriptionFilter
from domain.disclosure import public_view

router = APIRouter(prefix="/api/v3_0/streams", tags=["streams"])
LAGGING_CLOSE_CODE = 4008


class SubscriberResponse(EventSourceResponse):
    """An SSE response that counts its subscriber and drops it quietly when a send times out."""

    def __init__(self, *args, stats: StreamStats, **kwargs):
        super().__init__(*args, **kwargs)
        self.stats = stats

    async def __call__(self, scope, receive, send) -> None:
        self.stats.count("active")
        self.stats.count("served")
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            self.stats.count("stalled_disconnects")  # the server closes the connection
        finally:
            self.stats.count("active", -1)


def _start_position(audit: AuditServices, last_event_id: str | None, from_position: int | None) -> int:
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise ApiError(422, "UNPROCESSABLE_ENTITY", "Last-Event-ID must be a global position", "Last-Event-ID")
        return int(last_event_id)
    return audit.store.head_position() if from_position is None else from_position


def _subscription(audit: AuditServices, user: CurrentUser, params: dict, last_event_id: str | None) -> Subscription:
    """Validate the request (blocking: run in a worker thread) and build the subscription."""
    check_entities(user, audit.resolver, "asset", params["asset"] or [], "asset")
    check_entities(user, audit.resolver, "sensor", params["sensor"] or [], "sensor")
    flt = SubscriptionFilter(
        types=tuple(t for t in params["types"] or () if t),
        asset_ids=frozenset(params["asset"] or ()),
        sensor_ids=frozenset(params["sensor"] or ()),
        since=params["since"],
        until=params["until"],
    )
    start = _start_position(audit, last_event_id, params["from_position"])
    return Subscription(
        audit.store,
        audit.resolver,
        lambda owner: may_see_owner(user, owner),
        flt,
        cursor=start,
        max_lag_s=audit.limits.max_lag_s,
        on_live=lambda: audit.streams.stats.count("caught_up"),
    )


def _params(
    types: Annotated[list[str] | None, Query(alias="type")] = None,
    asset: Annotated[list[int] | None, Query()] = None,
    sensor: Annotated[list[int] | None, Query()] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    from_position: Annotated[int | None, Query(alias="from", ge=0)] = None,
) -> dict:
    return dict(types=types, asset=asset, sensor=sensor, since=since, until=until, from_position=from_position)


async def _sse_messages(subscription: Subscription, services: StreamServices) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in subscription.events(services.watcher, services.limiter):
            yield ServerSentEvent(orjson.dumps(public_view(event)).decode(), id=str(event.global_position))
    except Lagging as lag:
        services.stats.count("lagging_disconnects")
        yield ServerSentEvent(orjson.dumps({"resume_from": lag.position}).decode(), event="lagging")


@router.get("/events", response_class=EventSourceResponse)
async def sse_events(
    user: StreamReader,
    audit: Audit,
    params: Annotated[dict, Depends(_params)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Server-Sent Events: the account's events from ``from`` (or ``Last-Event-ID``), history then
    live, filtered by ``type``, ``asset``, ``sensor`` and ``since``/``until``; each message's ``id`` is
    the event's global position, so a reconnect resumes without gaps or duplicates. A subscriber too
    far behind is disconnected with its position."""
    subscription = await run_in_threadpool(_subscription, audit, user, params, last_event_id)
    return SubscriberResponse(
        _sse_messages(subscription, audit.streams),
        stats=audit.streams.stats,
        send_timeout=audit.limits.send_timeout_s,
        ping=15,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _ws_user(websocket: WebSocket, audit: AuditServices) -> CurrentUser:
    services = websocket.app.state.services
    authorization = websocket.headers.get("authorization")
    return await run_in_threadpool(reader_of, audit, services, authorization)


async def _ws_send_all(websocket: WebSocket, subscription: Subscription, audit: AuditServices) -> None:
    services, timeout = audit.streams, audit.limits.send_timeout_s
    try:
        async for event in subscription.events(services.watcher, services.limiter):
            await asyncio.wait_for(websocket.send_text(orjson.dumps(public_view(event)).decode()), timeout)
    except Lagging as lag:
        services.stats.count("lagging_disconnects")
        reason = orjson.dumps({"resume_from": lag.position}).decode()
        await asyncio.wait_for(websocket.close(LAGGING_CLOSE_CODE, reason), timeout)


@router.websocket("/ws")
async def ws_events(
    websocket: WebSocket,
    params: Annotated[dict, Depends(_params)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> None:
    audit: AuditServices = websocket.app.state.audit
    try:
        user = await _ws_user(websocket, audit)
        subscription = await run_in_threadpool(_subscription, audit, user, params, last_event_id)
    except ApiError as error:
        await websocket.close(1008, f"{error.code}: {error.message}"[:120])
        return
    await websocket.accept()
    sender = asyncio.create_task(_ws_send_all(websocket, subscription, audit))
    receiver = asyncio.create_task(_ws_until_closed(websocket))
    done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if sender in done and isinstance(sender.exception(), TimeoutError):  # stalled: drop the connection
        audit.streams.stats.count("stalled_disconnects")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(LAGGING_CLOSE_CODE, "send timed out"), 1.0)


async def _ws_until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it closes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.get("/status")
def stream_status(user: User, audit: Audit) -> dict:
    """Counters of this process's subscriptions (admins and auditors)."""
    if not user.can_read_all:
        raise ApiError(403, "INVALID_SENDER", "only admins and auditors see the stream status")
    return audit.streams.stats.as_dict()


@router.post("/keys", status_code=201)
def create_stream_key(user: User, audit: Audit) -> dict:
    """An API key with the read-only streams scope (subscriptions and history), for third parties."""
    return {
        "stream_key": issue_stream_key(audit, user),
        "scope": "streams:read",
        "expires_in_s": audit.limits.key_max_age_s,
    }

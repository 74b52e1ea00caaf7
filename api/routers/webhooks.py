"""Webhooks: register a URL with event filters; signed deliveries, retries, dead letters.

* ``POST /api/v3_0/webhooks`` ``{"url", "types"?, "assets"?, "sensors"?, "from"?}`` → 201 with the
  webhook and its ``secret`` (shown only here; it signs deliveries, see
  :mod:`domain.webhook_signing`). ``from``: deliver events after this global position
  (default: the head, i.e. new events only).
* ``GET /api/v3_0/webhooks`` — the account's webhooks; ``GET /api/v3_0/webhooks/{id}``.
* ``DELETE /api/v3_0/webhooks/{id}``.
* ``GET /api/v3_0/webhooks/{id}/deliveries?status=pending|delivered|dead`` — ``dead`` is the
  dead-letter list (attempts, last error).
* ``POST /api/v3_0/webhooks/{id}/redeliver`` ``{"deliveries"?: [ids]}`` — dead deliveries
  (all, or the listed ones) are attempted again.

Webhooks belong to the caller's account and receive that account's events (an admin's: all).
Auditors read the lists but register, delete or redeliver nothing.
"""

from __future__ import annotations

import secrets
import socket
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, HttpUrl

from api.audit_services import AuditServices
from api.auth import CurrentUser
from api.deps import Audit, User
from api.errors import ApiError
from api.stream_access import check_entities
from domain.ports.webhooks import Delivery, Webhook, WebhookStore
from domain.webhook_signing import DELIVERY_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from domain.webhook_targets import MAX_URL_LENGTH, TargetRefused, check_target

router = APIRouter(prefix="/api/v3_0/webhooks", tags=["webhooks"])
MAX_FILTER_IDS = 100


class WebhookRequest(BaseModel):
    url: HttpUrl = Field(max_length=MAX_URL_LENGTH)
    types: list[str] = Field(default_factory=list, max_length=MAX_FILTER_IDS)
    assets: list[int] = Field(default_factory=list, max_length=MAX_FILTER_IDS)
    sensors: list[int] = Field(default_factory=list, max_length=MAX_FILTER_IDS)
    from_position: int | None = Field(default=None, alias="from", ge=0)


class RedeliverRequest(BaseModel):
    deliveries: list[int] | None = Field(default=None, max_length=10_000)


def _store(audit: AuditServices) -> WebhookStore:
    if audit.webhooks is None:
        raise ApiError(503, "WEBHOOKS_UNAVAILABLE", "webhooks are not configured on this server")
    return audit.webhooks


def _resolve(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _check_url(audit: AuditServices, url: str) -> None:
    """422 ``WEBHOOK_URL_REFUSED`` for URLs the platform will not call (SSRF guard)."""
    try:
        check_target(url, _resolve, audit.webhook_allow_private)
    except TargetRefused as exc:
        raise ApiError(422, exc.code, f"url: {exc}", exc.field) from exc


def _require_writer(user: CurrentUser) -> None:
    if "auditor" in user.roles and not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "auditors read; they do not change webhooks")


def _view(webhook: Webhook, secret: bool = False) -> dict:
    body = {
        "id": webhook.id,
        "account_id": webhook.account_id,
        "url": webhook.url,
        "types": list(webhook.types),
        "assets": list(webhook.asset_ids),
        "sensors": list(webhook.sensor_ids),
        "position": webhook.cursor,
        "created_at": webhook.created_at.isoformat() if webhook.created_at else None,
        "signature": {"header": SIGNATURE_HEADER, "timestamp_header": TIMESTAMP_HEADER,
                      "event_id_header": EVENT_ID_HEADER, "delivery_header": DELIVERY_HEADER,
                      "algorithm": "HMAC-SHA256 over '<timestamp>.<body>'"},
    }  # fmt: skip
    if secret:
        body["secret"] = webhook.secret
    return body


def _delivery_view(delivery: Delivery) -> dict:
    return {
        "id": delivery.id,
        "event_id": str(delivery.event_id),
        "position": delivery.position,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else None,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
    }


def _visible_webhook(audit: AuditServices, user: CurrentUser, webhook_id: int) -> Webhook:
    webhook = _store(audit).get(webhook_id)
    if webhook is None:
        raise ApiError(404, "UNKNOWN_WEBHOOK", f"no webhook {webhook_id}", "id")
    if not (user.can_read_all or webhook.account_id == user.account_id):
        raise ApiError(403, "INVALID_SENDER", "this webhook belongs to another account", "id")
    return webhook


@router.post("", status_code=201)
def register_webhook(body: WebhookRequest, user: User, audit: Audit) -> JSONResponse:
    """Register a URL for the account's events (filters: ``types``, ``assets``, ``sensors``; ``from`` a
    position, default new events only); 201 with the signing ``secret``, shown only here. Private
    and loopback addresses are refused unless the server allows them."""
    _require_writer(user)
    _check_url(audit, str(body.url))
    check_entities(user, audit.resolver, "asset", body.assets, "assets")
    check_entities(user, audit.resolver, "sensor", body.sensors, "sensors")
    start = audit.store.head_position() if body.from_position is None else body.from_position
    webhook = Webhook(
        id=0, account_id=user.account_id, url=str(body.url), secret=secrets.token_urlsafe(32),
        types=tuple(t for t in body.types if t), asset_ids=tuple(body.assets), sensor_ids=tuple(body.sensors),
        sees_all=user.is_admin, cursor=start,
    )  # fmt: skip
    return JSONResponse(_view(_store(audit).add(webhook), secret=True), status_code=201)


@router.get("")
def list_webhooks(user: User, audit: Audit) -> list[dict]:
    """The account's webhooks (admins and auditors: all), without their secrets."""
    account = None if user.can_read_all else user.account_id
    return [_view(w) for w in _store(audit).list(account)]


@router.get("/{webhook_id}")
def get_webhook(webhook_id: int, user: User, audit: Audit) -> dict:
    """One webhook of the account, without its secret."""
    return _view(_visible_webhook(audit, user, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, user: User, audit: Audit) -> None:
    """Delete the webhook; pending deliveries are dropped."""
    _require_writer(user)
    _visible_webhook(audit, user, webhook_id)
    _store(audit).remove(webhook_id)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: int,
    user: User,
    audit: Audit,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """The webhook's deliveries in event order, by ``status`` (``dead``: the dead-letter list, with
    attempts and the last error)."""
    _visible_webhook(audit, user, webhook_id)
    return {"deliveries": [_delivery_view(d) for d in _store(audit).deliveries(webhook_id, status, limit)]}


@router.post("/{webhook_id}/redeliver")
def redeliver(webhook_id: int, user: User, audit: Audit, body: RedeliverRequest | None = None) -> dict:
    """Attempt dead deliveries again (all, or the listed ``deliveries``); answers how many."""
    _require_writer(user)
    _visible_webhook(audit, user, webhook_id)
    count = _store(audit).redeliver(webhook_id, body.deliveries if body else None, datetime.now(UTC))
    return {"redelivered": count}

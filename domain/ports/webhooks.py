"""The webhook-store port: registered webhooks and their delivery state (durable).

Delivery state is not derivable from events alone (attempts, outcomes), so it lives in its own
store that survives restarts: :mod:`infra.webhooks` (SQLite file or PostgreSQL). Semantics:

* :meth:`WebhookStore.enqueue` adds deliveries and advances the webhook's cursor (the global
  position up to which events were examined) in one transaction, so a crash between the two
  cannot lose or duplicate a delivery; a delivery of the same (webhook, event) is stored once.
* A delivery is ``pending`` (with ``next_attempt_at``), ``delivered`` or ``dead`` (the
  dead-letter list); :meth:`WebhookStore.redeliver` puts dead ones back to ``pending``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

DeliveryStatus = Literal["pending", "delivered", "dead"]


@dataclass(frozen=True)
class Webhook:
    """A subscriber's URL with its filters; ``secret`` signs deliveries (never shown after creation)."""

    id: int
    account_id: int
    url: str
    secret: str
    types: tuple[str, ...] = ()
    asset_ids: tuple[int, ...] = ()
    sensor_ids: tuple[int, ...] = ()
    sees_all: bool = False
    """Registered by an admin: deliveries cover every account."""
    cursor: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One event to deliver to one webhook, and how that went so far."""

    id: int
    webhook_id: int
    event_id: uuid.UUID
    position: int
    status: DeliveryStatus = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class NewDelivery:
    event_id: uuid.UUID
    position: int
    next_attempt_at: datetime


@dataclass
class AttemptOutcome:
    """What an attempt changed: ``status``, when to try next, the error (for humans)."""

    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    delivered_at: datetime | None = None


class WebhookStore(Protocol):
    def create_tables(self) -> None:
        """Create the store's tables (the composition root's storage step; idempotent)."""
        ...

    def add(self, webhook: Webhook) -> Webhook:
        """Store a new webhook (its ``id`` is assigned); returns it."""
        ...

    def get(self, webhook_id: int) -> Webhook | None: ...

    def list(self, account_id: int | None = None) -> list[Webhook]:
        """Webhooks of one account (``None``: all)."""
        ...

    def remove(self, webhook_id: int) -> None:
        """Delete a webhook and its deliveries."""
        ...

    def enqueue(self, webhook_id: int, deliveries: Sequence[NewDelivery], cursor: int) -> None: ...

    def due(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Pending deliveries whose ``next_attempt_at`` <= ``now``, oldest position first."""
        ...

    def record(self, delivery_id: int, outcome: AttemptOutcome) -> None: ...

    def deliveries(self, webhook_id: int, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]: ...

    def redeliver(self, webhook_id: int, delivery_ids: Sequence[int] | None, now: datetime) -> int:
        """Dead deliveries (all, or those listed) back to pending, due ``now``; returns how many."""
        ...

    def next_due(self) -> datetime | None:
        """The earliest ``next_attempt_at`` of a pending delivery."""
        ...

    def close(self) -> None: ...

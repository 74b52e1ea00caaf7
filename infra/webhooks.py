"""The webhook store on SQL (SQLAlchemy Core): a SQLite file ``webhooks.db`` (embedded,
``synchronous=FULL``) or the PostgreSQL read-model database. Implements
:class:`domain.ports.webhooks.WebhookStore`.

Tables: ``webhooks`` (one row per webhook, with its cursor) and ``webhook_deliveries`` (one
row per (webhook, event), unique), created by :meth:`SqlWebhookStore.create_tables` (the
composition root's storage step). Times are stored as ISO-8601 strings in UTC, so they
compare as text on both dialects. Signing secrets are stored sealed (AES-256-GCM under a
platform key of the personal-data key store, :class:`SecretBox`), never in plaintext.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

from domain.personal_data import is_sealed
from domain.ports.webhooks import AttemptOutcome, Delivery, DeliveryStatus, NewDelivery, Webhook
from infra.eventstore.postgres import postgres_engine
from infra.eventstore.sqlite import sqlite_engine
from infra.personal_keys import PersonalDataCipher

metadata = sa.MetaData()
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("filters", sa.Text, nullable=False),
    sa.Column("sees_all", sa.Boolean, nullable=False, default=False),
    sa.Column("cursor", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", sa.String(40), nullable=False),
)
deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Integer, nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.String(40)),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.String(40)),
    sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
)
sa.Index("ix_webhook_deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _webhook(row) -> Webhook:
    filters = orjson.loads(row.filters)
    return Webhook(
        id=row.id, account_id=row.account_id, url=row.url, secret=row.secret,
        types=tuple(filters.get("types", ())), asset_ids=tuple(filters.get("asset_ids", ())),
        sensor_ids=tuple(filters.get("sensor_ids", ())), sees_all=bool(row.sees_all), cursor=row.cursor,
        created_at=_time(row.created_at),
    )  # fmt: skip


def _delivery(row) -> Delivery:
    return Delivery(
        id=row.id, webhook_id=row.webhook_id, event_id=uuid.UUID(row.event_id), position=row.position,
        status=row.status, attempts=row.attempts, next_attempt_at=_time(row.next_attempt_at),
        last_error=row.last_error, delivered_at=_time(row.delivered_at),
    )  # fmt: skip


class SecretBox:
    """Seals webhook secrets with the platform key ``platform-webhook-secrets`` (AES-256-GCM)."""

    SUBJECT, PATH = "platform-webhook-secrets", "webhook.secret"

    def __init__(self, cipher: PersonalDataCipher):
        self.cipher = cipher
        self._key: bytes | None = None  # a platform key is never forgotten: loaded once

    def _platform_key(self) -> bytes | None:
        if self._key is None:
            self._key = self.cipher.keys.key_for(self.SUBJECT, create=True)
        return self._key

    def seal(self, secret: str) -> str:
        return self.cipher.seal(self.SUBJECT, self.PATH, secret, key=self._platform_key())

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # written before secrets were sealed
        return self.cipher.open(self._platform_key(), self.SUBJECT, self.PATH, stored)


class SqlWebhookStore:
    def __init__(self, engine: sa.Engine, secrets: SecretBox | None = None):
        """``secrets``: seals the signing secrets at rest (the composition root always passes one)."""
        self.engine, self.secrets = engine, secrets

    def _seal(self, secret: str) -> str:
        return self.secrets.seal(secret) if self.secrets is not None else secret

    def _webhook(self, row) -> Webhook:
        webhook = _webhook(row)
        if self.secrets is None:
            return webhook
        return replace(webhook, secret=self.secrets.open(webhook.secret))

    def create_tables(self) -> None:
        """Create the tables (called by ``infra.bootstrap.prepare_storage``; idempotent)."""
        metadata.create_all(self.engine)

    @classmethod
    def sqlite(cls, path: Path | str, secrets: SecretBox | None = None) -> SqlWebhookStore:
        return cls(sqlite_engine(path), secrets)

    @classmethod
    def postgres(cls, url: str, secrets: SecretBox | None = None) -> SqlWebhookStore:
        return cls(postgres_engine(url, pool_size=2), secrets)

    def add(self, webhook: Webhook) -> Webhook:
        filters = {
            "types": list(webhook.types),
            "asset_ids": list(webhook.asset_ids),
            "sensor_ids": list(webhook.sensor_ids),
        }
        created = webhook.created_at or datetime.now(UTC)
        values = dict(
            account_id=webhook.account_id, url=webhook.url, secret=self._seal(webhook.secret),
            filters=orjson.dumps(filters).decode(), sees_all=webhook.sees_all, cursor=webhook.cursor,
            created_at=_iso(created),
        )  # fmt: skip
        with self.engine.begin() as conn:
            new_id = conn.execute(webhooks.insert().values(**values)).inserted_primary_key[0]
        return self.get(new_id)

    def get(self, webhook_id: int) -> Webhook | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return self._webhook(row) if row else None

    def list(self, account_id: int | None = None) -> list[Webhook]:
        query = sa.select(webhooks).order_by(webhooks.c.id)
        if account_id is not None:
            query = query.where(webhooks.c.account_id == account_id)
        with self.engine.connect() as conn:
            return [self._webhook(r) for r in conn.execute(query)]

    def remove(self, webhook_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(deliveries.delete().where(deliveries.c.webhook_id == webhook_id))
            conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))

    def enqueue(self, webhook_id: int, new: Sequence[NewDelivery], cursor: int) -> None:
        with self.engine.begin() as conn:
            stored = {
                r[0] for r in conn.execute(
                    sa.select(deliveries.c.event_id).where(
                        deliveries.c.webhook_id == webhook_id,
                        deliveries.c.event_id.in_([str(d.event_id) for d in new]),
                    )
                )
            } if new else set()  # fmt: skip
            rows = [
                dict(webhook_id=webhook_id, event_id=str(d.event_id), position=d.position, status="pending",
                     attempts=0, next_attempt_at=_iso(d.next_attempt_at))
                for d in new if str(d.event_id) not in stored
            ]  # fmt: skip
            if rows:
                conn.execute(deliveries.insert(), rows)
            conn.execute(
                webhooks.update().where(webhooks.c.id == webhook_id, webhooks.c.cursor < cursor).values(cursor=cursor)
            )

    def due(self, now: datetime, limit: int = 100) -> list[Delivery]:
        c = deliveries.c
        query = (
            sa.select(deliveries)
            .where(c.status == "pending", c.next_attempt_at <= _iso(now))
            .order_by(c.webhook_id, c.position)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query)]

    def record(self, delivery_id: int, outcome: AttemptOutcome) -> None:
        values = dict(
            status=outcome.status, attempts=outcome.attempts, next_attempt_at=_iso(outcome.next_attempt_at),
            last_error=outcome.error, delivered_at=_iso(outcome.delivered_at),
        )  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))

    def deliveries(self, webhook_id: int, status: DeliveryStatus | None = None, limit: int = 100) -> list[Delivery]:
        query = sa.select(deliveries).where(deliveries.c.webhook_id == webhook_id)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query.order_by(deliveries.c.position).limit(limit))]

    def redeliver(self, webhook_id: int, delivery_ids: Sequence[int] | None, now: datetime) -> int:
        c = deliveries.c
        query = deliveries.update().where(c.webhook_id == webhook_id, c.status == "dead")
        if delivery_ids is not None:
            query = query.where(c.id.in_(list(delivery_ids)))
        with self.engine.begin() as conn:
            return conn.execute(query.values(status="pending", attempts=0, next_attempt_at=_iso(now))).rowcount

    def next_due(self) -> datetime | None:
        query = sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(deliveries.c.status == "pending")
        with self.engine.connect() as conn:
            return _time(conn.execute(query).scalar())

    def close(self) -> None:
        self.engine.dispose()

"""What the subscription, history, time-travel, webhook and personal-data routes share.

:class:`AuditServices` is built once by :func:`api.deps.install` from the platform and stored
on the app (``app.state.audit``); routers take it as :data:`api.deps.Audit`, never the platform.

* ``store`` — the event store as the API reads it (personal fields opened, or ``[erased]``);
  the hash chain and checkpoints read its stored form themselves
  (:func:`domain.personal_data.stored_form`).
* ``resolver`` — the one (caching) ownership resolver of :mod:`domain.disclosure`.
* ``streams`` — the subscribers' shared head watcher, read threads and counters.
* ``webhooks``, ``personal_keys``, ``signing_key`` — the webhook store, the per-user and
  per-account data keys, the platform's Ed25519 checkpoint key (loaded on use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from anyio import CapacityLimiter

from api.subscriptions import HeadWatcher, StreamStats
from domain.disclosure import OwnershipResolver
from domain.ports.event_store import EventStore
from domain.ports.personal_keys import PersonalDataKeys
from domain.ports.webhooks import WebhookStore

READ_THREADS = 4
"""Worker threads shared by all subscribers' store reads (ingestion keeps the rest)."""


@dataclass
class StreamServices:
    """What the subscribers of one app share: the head watcher, read threads, counters."""

    watcher: HeadWatcher
    limiter: CapacityLimiter
    stats: StreamStats


@dataclass(frozen=True)
class StreamLimits:
    """Subscription settings (seconds): key lifetime, lag before a disconnect, send timeout."""

    key_max_age_s: int
    max_lag_s: float
    send_timeout_s: float


@dataclass(frozen=True)
class AuditServices:
    store: EventStore
    resolver: OwnershipResolver
    streams: StreamServices
    limits: StreamLimits
    stream_key_secret: str
    """Signs stream keys (``fls_...``, :mod:`api.stream_access`)."""
    signing_key: Callable[[], object]
    """The platform's Ed25519 checkpoint key (``cryptography`` private key), loaded on use."""
    webhooks: WebhookStore | None
    personal_keys: PersonalDataKeys | None
    webhook_allow_private: bool = False
    """Webhook URLs may resolve to loopback/private/link-local addresses (:mod:`domain.webhook_targets`)."""


def build_audit_services(
    store: EventStore,
    limits: StreamLimits,
    stream_key_secret: str,
    signing_key: Callable[[], object],
    webhooks: WebhookStore | None,
    personal_keys: PersonalDataKeys | None,
    webhook_allow_private: bool = False,
) -> AuditServices:
    streams = StreamServices(HeadWatcher(store), CapacityLimiter(READ_THREADS), StreamStats())
    return AuditServices(
        store, OwnershipResolver(store), streams, limits, stream_key_secret, signing_key, webhooks, personal_keys,
        webhook_allow_private,
    )  # fmt: skip

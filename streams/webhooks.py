"""Webhook delivery: a plain class over the event store and the webhook store, with a clock.

:meth:`WebhookDispatcher.poll` examines the events after each webhook's cursor (read through the
event-store port), keeps those its account may see that match its filters, and enqueues one
delivery per event, advancing the cursor in the same transaction. :meth:`deliver_due` sends
the deliveries that are due: ``POST <url>`` with the event as JSON (the shape of the history and
subscription endpoints, credentials removed), signed (:mod:`domain.webhook_signing`). A 2xx is
success; anything else (or no answer within ``timeout_s``) is retried after
``base_backoff_s * 2 ** (attempts - 1)`` seconds (at most ``max_backoff_s``); after
``max_attempts`` failed attempts the delivery is dead (the dead-letter list; the API can
redeliver it). State lives in the webhook store, so a restart loses no delivery; delivery is
at least once (a crash after sending and before recording resends): receivers de-duplicate on
the event id.

Targets: before each attempt the URL is checked again (:mod:`domain.webhook_targets`: http(s)
only, no loopback/private/link-local address unless ``allow_private``); a refused target is a
failed attempt. One attempt is bounded: connect within 5 s, the whole answer within
``timeout_s``, and the response body is never read (only the status counts).

:meth:`run` loops both in a thread until stopped (embedded deployment; started by the platform).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from domain.disclosure import OwnershipResolver, SubscriptionFilter, may_see, public_view
from domain.ports.event_store import EventStore
from domain.ports.webhooks import AttemptOutcome, Delivery, NewDelivery, Webhook, WebhookStore
from domain.webhook_signing import DELIVERY_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from domain.webhook_targets import Resolve, TargetRefused, check_target
from streams.append_watch import AppendWatch, StoreWatch

log = logging.getLogger(__name__)
Sender = Callable[[str, bytes, dict[str, str]], int]
"""(url, body, headers) -> HTTP status; raises on a transport error."""


def http_sender(timeout_s: float = 10.0) -> Sender:
    """A sender that POSTs with httpx: no redirects followed, no proxy from the environment,
    connect within 5 s, each read within ``timeout_s``; the response body is not read."""
    timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
    client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def send(url: str, body: bytes, headers: dict[str, str]) -> int:
        request_headers = {"Content-Type": "application/json", **headers}
        with client.stream("POST", url, content=body, headers=request_headers) as response:
            return response.status_code  # closed unread: a huge answer costs nothing

    return send


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the operating system's resolver)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_backoff_s: float = 1.0
    max_backoff_s: float = 3600.0

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based): 1 s, 2 s, 4 s, ... capped."""
        return timedelta(seconds=min(self.base_backoff_s * 2 ** (attempts - 1), self.max_backoff_s))


class WebhookDispatcher:
    def __init__(
        self,
        events: EventStore,
        webhooks: WebhookStore,
        sender: Sender | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        policy: RetryPolicy | None = None,
        batch_size: int = 500,
        allow_private: bool = False,
        resolve: Resolve = system_resolve,
        appends: AppendWatch | None = None,
    ):
        """``allow_private``: deliver to loopback/private/link-local addresses too (SSRF guard off)."""
        self.events, self.webhooks = events, webhooks
        self.allow_private, self.resolve = allow_private, resolve
        self.sender = sender or http_sender()
        self.clock, self.policy, self.batch_size = clock, policy or RetryPolicy(), batch_size
        self.resolver = OwnershipResolver(events)
        self.appends = appends
        """How :meth:`run` hears of appends (default: the store's ``wait_for_append``)."""

    # -- finding what to deliver -----------------------------------------------------------
    def poll(self) -> int:
        """Enqueue deliveries for new events of every webhook; returns how many were enqueued."""
        return sum(self._poll_one(webhook) for webhook in self.webhooks.list())

    def _poll_one(self, webhook: Webhook) -> int:
        flt = SubscriptionFilter(webhook.types, frozenset(webhook.asset_ids), frozenset(webhook.sensor_ids))
        types = webhook.types or None
        head = self.events.head_position() if types else 0  # before the read: nothing below it comes later
        batch = self.events.read_all(webhook.cursor, self.batch_size, types=types)
        cursor = batch[-1].global_position if batch else webhook.cursor
        if types and len(batch) < self.batch_size:
            cursor = max(cursor, head)
        now, new = self.clock(), []
        for event in batch:
            owner = self.resolver.owner_of(event)
            if may_see(owner, webhook.account_id, webhook.sees_all) and flt.matches(event, owner):
                new.append(NewDelivery(event.event_id, event.global_position, now))
        if cursor != webhook.cursor:
            self.webhooks.enqueue(webhook.id, new, cursor)
        return len(new)

    # -- delivering -------------------------------------------------------------------------
    def deliver_due(self, limit: int = 100) -> int:
        """Attempt every due delivery (at most ``limit``); returns how many attempts were made."""
        due = self.webhooks.due(self.clock(), limit)
        hooks: dict[int, Webhook | None] = {}
        for delivery in due:
            if delivery.webhook_id not in hooks:
                hooks[delivery.webhook_id] = self.webhooks.get(delivery.webhook_id)
            webhook = hooks[delivery.webhook_id]
            if webhook is not None:
                self.webhooks.record(delivery.id, self._attempt(webhook, delivery))
        return len(due)

    def _attempt(self, webhook: Webhook, delivery: Delivery) -> AttemptOutcome:
        event = self.events.get_event(delivery.event_id)
        attempts = delivery.attempts + 1
        if event is None:
            return AttemptOutcome("dead", attempts, error="the event is no longer in the store")
        body = orjson.dumps(public_view(event))
        now = self.clock()
        timestamp = int(now.timestamp())
        headers = {
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
            EVENT_ID_HEADER: str(event.event_id),
            DELIVERY_HEADER: str(delivery.id),
        }
        try:
            check_target(webhook.url, self.resolve, self.allow_private)
            status = self.sender(webhook.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except TargetRefused as exc:
            error = f"refused: {exc}"[:500]
        except Exception as exc:  # noqa: BLE001 - any failure of the receiver is a failed attempt
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error is None:
            return AttemptOutcome("delivered", attempts, delivered_at=now)
        if attempts >= self.policy.max_attempts:
            return AttemptOutcome("dead", attempts, error=error)
        return AttemptOutcome("pending", attempts, next_attempt_at=now + self.policy.backoff(attempts), error=error)

    # -- running ----------------------------------------------------------------------------
    def run(self, stop: threading.Event, idle_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        """Poll and deliver until ``stop`` is set: after each append (:attr:`appends`) and every
        ``idle_s`` seconds while there are webhooks; while there are none, only every ``idle_s``
        seconds (to find those added since): no webhook costs nothing per append. Errors are
        logged and retried after ``idle_s``."""
        appends = self.appends or StoreWatch(self.events)
        position, any_webhook, listed_at = self.events.head_position(), True, -idle_s
        while not stop.is_set():
            try:
                if any_webhook or monotonic() - listed_at >= idle_s:
                    listed_at, webhooks = monotonic(), self.webhooks.list()
                    any_webhook = bool(webhooks)
                    for webhook in webhooks:
                        self._poll_one(webhook)
                    self.deliver_due()
            except Exception:  # noqa: BLE001 - logged; the loop retries (state is durable)
                log.exception("webhook dispatcher failed; retrying")
                stop.wait(idle_s)
                continue
            position = appends.wait(position, idle_s).up_to


class WebhookWorker:
    """Runs a :class:`WebhookDispatcher` in a daemon thread (``start``/``stop``)."""

    def __init__(self, dispatcher: WebhookDispatcher):
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.dispatcher.run, args=(self._stop,), daemon=True, name="webhooks")
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

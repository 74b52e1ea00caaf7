"""Credentials: password hashes and API keys, kept out of the events that describe users.

Credentials live in streams of their own, ``credential-<user id>`` (category ``credential``,
see :data:`PRIVATE_CATEGORIES`): anything that shows events to subscribers, auditors or
operators (webhooks, history, ``events tail``) must leave these streams out
(:func:`is_private`). The user's own stream records only that a password was set, changed or
reset (``UserPasswordChanged`` v2 carries no hash); ``UserRegistered`` and
``UserPasswordChanged`` of schema version 1 carried the bcrypt hash and are upcast on read to
versions without it (the stored data is never rewritten).

API keys: ``flk_<key id>_<secret>``; the secret has 256 random bits and only its SHA-256 digest
is stored (in :class:`ApiKeyIssued`), so a key is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime

from domain.events import DomainEvent, register_event

CREDENTIAL_CATEGORY = "credential"
PRIVATE_CATEGORIES = frozenset({CREDENTIAL_CATEGORY})
"""Stream categories whose events are never shown outside the platform's own read models."""

API_KEY_PREFIX = "flk_"
PasswordReason = Literal["registered", "changed", "reset"]


def credential_stream(user_id: int) -> str:
    return f"{CREDENTIAL_CATEGORY}-{user_id}"


def is_private(stream_id: str) -> bool:
    """True for streams whose events carry credentials (never published to subscribers)."""
    return stream_id.split("-", 1)[0] in PRIVATE_CATEGORIES


@register_event
class PasswordHashSet(DomainEvent):
    """The user's password (bcrypt ``password_hash``) was set; ``reason`` says why.

    A ``changed`` or ``reset`` password invalidates the auth tokens issued before it.
    """

    user_id: int
    password_hash: str
    reason: PasswordReason = "registered"


@register_event
class ApiKeyIssued(DomainEvent):
    """A long-lived API key of the user: ``key_hash`` is the SHA-256 hex digest of its secret."""

    user_id: int
    key_id: str
    name: str
    key_hash: str
    expires_at: AwareDatetime | None = None


@register_event
class ApiKeyRevoked(DomainEvent):
    user_id: int
    key_id: str


def hash_key_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_api_key(key_id: str, secret: str) -> str:
    return f"{API_KEY_PREFIX}{key_id}_{secret}"


def parse_api_key(value: str) -> tuple[str, str] | None:
    """(key id, secret) of a string shaped like an API key, else ``None``."""
    if not value.startswith(API_KEY_PREFIX):
        return None
    key_id, _, secret = value.removeprefix(API_KEY_PREFIX).partition("_")
    return (key_id, secret) if key_id and secret else None


def key_matches(secret: str, key_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored digest."""
    return hmac.compare_digest(hash_key_secret(secret), key_hash)


def key_usable(revoked: bool, expires_at: datetime | None, now: datetime) -> bool:
    return not revoked and (expires_at is None or now < expires_at)


def keys_of(events: Iterable[DomainEvent]) -> dict[str, tuple[ApiKeyIssued, bool]]:
    """The user's keys from their credential stream: key id -> (issued event, revoked?)."""
    keys: dict[str, tuple[ApiKeyIssued, bool]] = {}
    for event in events:
        if isinstance(event, ApiKeyIssued):
            keys[event.key_id] = (event, False)
        elif isinstance(event, ApiKeyRevoked) and event.key_id in keys:
            keys[event.key_id] = (keys[event.key_id][0], True)
    return keys

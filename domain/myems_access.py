"""MyEMS-style access: API keys (``apikeys`` family) and signed-out session tokens.

An API key lives in stream ``myemsapikey-<id>``: created (name, the SHA-256 of its secret,
expiry in UTC), changed (name, expiry) or revoked (deleted). Only the hash is stored; the secret
is shown once, when the key is created. An API key acts as the user who created it.

A user's MyEMS profile (display name, account and password expiry) lives in stream
``myemsuser-<user id>``; the user itself is the platform's (``UserRegistered``/``UserChanged``).

Signing out (``PUT /myems/users/logout``) revokes that one session token: stream
``myemssession-<user id>`` records the token's SHA-256 until the token would have expired anyway.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from domain.events import DomainEvent, register_event


def api_key_stream(api_key_id: int) -> str:
    return f"myemsapikey-{api_key_id}"


def session_stream(user_id: int) -> str:
    return f"myemssession-{user_id}"


def user_profile_stream(user_id: int) -> str:
    return f"myemsuser-{user_id}"


def secret_hash(secret: str) -> str:
    """The SHA-256 (hex) under which an API key's secret or a revoked token is kept."""
    return hashlib.sha256(secret.strip().encode()).hexdigest()


@register_event
class MyEmsApiKeyCreated(DomainEvent):
    api_key_id: int
    account_id: int
    user_id: int
    name: str
    token_sha256: str
    created_at: datetime
    expires_at: datetime


@register_event
class MyEmsApiKeyChanged(DomainEvent):
    api_key_id: int
    name: str
    expires_at: datetime


@register_event
class MyEmsApiKeyRevoked(DomainEvent):
    api_key_id: int


@register_event
class MyEmsTokenRevoked(DomainEvent):
    """A session token signed out; ``expires_at``: when it would have expired (the row may go then)."""

    user_id: int
    token_sha256: str
    expires_at: datetime


def evolve(state: MyEmsApiKeyCreated | None, event: DomainEvent) -> MyEmsApiKeyCreated | None:
    if isinstance(event, MyEmsApiKeyCreated):
        return event
    if isinstance(event, MyEmsApiKeyChanged) and state is not None:
        return state.model_copy(update={"name": event.name, "expires_at": event.expires_at})
    if isinstance(event, MyEmsApiKeyRevoked):
        return None
    return state


@register_event
class MyEmsUserProfileSet(DomainEvent):
    """What MyEMS keeps of a user beyond the platform's user: its display name (personal data,
    sealed as the user's e-mail is) and when its account and its password expire (UTC)."""

    user_id: int
    display_name: str
    account_expires_at: datetime
    password_expires_at: datetime

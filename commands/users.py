"""Handlers of user and credential commands: change a user, set a password, issue and revoke API keys.

Credentials go to the user's credential stream (``domain.credentials``), never into the user's
own events. Passwords are hashed with bcrypt (:func:`commands.registry.hash_password`); API key
secrets are 256 random bits, of which only the SHA-256 digest is stored.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import reduce

from pydantic import AwareDatetime, BaseModel, Field

from commands.context import CommandContext, CommandError
from commands.registry import hash_password
from commands.user_emails import email_holder, free_email_stream, release_email
from domain import credentials as cr
from domain import registry as ev
from domain.ports.event_store import ANY, WrongExpectedRevision

PASSWORD_MIN_LENGTH = 8


class ChangeUser(BaseModel):
    user_id: int
    changes: dict


class SetPassword(BaseModel):
    """Set a user's password; ``password=None`` sets a random one nobody knows (a reset)."""

    user_id: int
    password: str | None = Field(default=None, min_length=PASSWORD_MIN_LENGTH)
    reason: cr.PasswordReason = "reset"


class IssueApiKey(BaseModel):
    user_id: int
    name: str = Field(min_length=1, max_length=255)
    expires_at: AwareDatetime | None = None


class RevokeApiKey(BaseModel):
    user_id: int
    key_id: str


def load_user(ctx: CommandContext, user_id: int) -> tuple[ev.UserState | None, int | None]:
    """The user's current state (``None``: no such user) and its stream revision."""
    events, revision = ctx.load(ev.stream_of("user", user_id))
    return reduce(ev.evolve_user, events, None), revision


def require_user(ctx: CommandContext, user_id: int) -> tuple[ev.UserState, int]:
    state, revision = load_user(ctx, user_id)
    if state is None or revision is None:
        raise CommandError("UNRECOGNIZED_USER", f"no user {user_id}", "id")
    return state, revision


def change_user(ctx: CommandContext, cmd: ChangeUser) -> ev.UserState:
    """Append a validated ``UserChanged``; returns the new state."""
    current, revision = require_user(ctx, cmd.user_id)
    try:
        change = ev.decide_user_change(current, cmd.changes)
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    ctx.append(ev.stream_of("user", cmd.user_id), [change], revision)
    return ev.evolve_user(current, change)


def change_email(ctx: CommandContext, user_id: int, email: str) -> None:
    """Give the user another e-mail address: the new one is reserved in its uniqueness stream
    (``DUPLICATE_EMAIL`` when taken), the user's ``UserChanged`` records it, the old one is released."""
    current, revision = require_user(ctx, user_id)
    email = email.lower()
    if email == current.email:
        return
    free = free_email_stream(ctx.store, email)
    if free is None:
        raise CommandError("DUPLICATE_EMAIL", f"a user with e-mail {email} exists", "email")
    try:
        ctx.append(free[0], [ev.IdReserved(kind="user-email", id=user_id)], free[1])
    except WrongExpectedRevision as exc:
        raise CommandError("DUPLICATE_EMAIL", f"a user with e-mail {email} exists", "email") from exc
    ctx.append(ev.stream_of("user", user_id), [ev.UserChanged(user_id=user_id, changes={"email": email})], revision)
    release_email(ctx, current.email, user_id)


def set_password(ctx: CommandContext, cmd: SetPassword) -> int:
    """Store the new hash in the credential stream and the fact in the user's stream.

    Returns the global position of the credential event: the new token epoch (tokens issued
    before it stop working once the credentials projection applied it).
    """
    _, revision = require_user(ctx, cmd.user_id)
    password = cmd.password or secrets.token_urlsafe(32)
    event = cr.PasswordHashSet(user_id=cmd.user_id, password_hash=hash_password(password), reason=cmd.reason)
    result = ctx.append(cr.credential_stream(cmd.user_id), [event], ANY)
    if cmd.reason != "registered":
        fact = ev.UserPasswordChanged(user_id=cmd.user_id, reason=cmd.reason)
        ctx.append(ev.stream_of("user", cmd.user_id), [fact], revision)
    return result.global_position


def issue_api_key(ctx: CommandContext, cmd: IssueApiKey, now: datetime | None = None) -> tuple[str, str]:
    """A new API key of the user: (key id, the key itself — shown once, never stored)."""
    require_user(ctx, cmd.user_id)
    if cmd.expires_at is not None and cmd.expires_at <= (now or ctx.clock()):
        raise CommandError("INVALID_EXPIRY", "expires_at must be in the future", "expires_at")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    event = cr.ApiKeyIssued(
        user_id=cmd.user_id,
        key_id=key_id,
        name=cmd.name,
        key_hash=cr.hash_key_secret(secret),
        expires_at=cmd.expires_at,
    )
    ctx.append(cr.credential_stream(cmd.user_id), [event], ANY)
    return key_id, cr.format_api_key(key_id, secret)


def user_keys(ctx: CommandContext, user_id: int) -> dict[str, tuple[cr.ApiKeyIssued, bool]]:
    """The user's keys from the event store: key id -> (issued event, revoked?)."""
    events, _ = ctx.load(cr.credential_stream(user_id))
    return cr.keys_of(events)


def revoke_api_key(ctx: CommandContext, cmd: RevokeApiKey) -> None:
    events, revision = ctx.load(cr.credential_stream(cmd.user_id))
    key = cr.keys_of(events).get(cmd.key_id)
    if key is None or key[1]:
        message = f"no active API key {cmd.key_id!r} of user {cmd.user_id}"
        raise CommandError("UNRECOGNIZED_API_KEY", message, "key_id")
    ctx.append(cr.credential_stream(cmd.user_id), [cr.ApiKeyRevoked(user_id=cmd.user_id, key_id=cmd.key_id)], revision)


def user_id_by_email(ctx: CommandContext, email: str) -> int | None:
    """The id of the user with this e-mail address, from the event store (no read model needed)."""
    return email_holder(ctx.store, email)

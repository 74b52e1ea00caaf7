"""Handlers of MyEMS access commands: API keys, sign-out, passwords, and users with their MyEMS profile."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import reduce

from commands import registry, users
from commands.context import CommandContext, CommandError
from commands.registry import verify_password
from domain import myems_access as ma
from domain.ports.event_store import ANY, NO_STREAM


def new_api_key(ctx: CommandContext, account_id: int, user_id: int, name: str,
                expires_at: datetime) -> tuple[int, str]:
    """(id, secret) of a new API key acting as ``user_id``; the secret is returned only here."""
    api_key_id = ctx.reserve_id("myemsapikey")
    secret = secrets.token_hex(64)  # 128 hex characters, as MyEMS' keys
    event = ma.MyEmsApiKeyCreated(api_key_id=api_key_id, account_id=account_id, user_id=user_id, name=name,
                                  token_sha256=ma.secret_hash(secret), created_at=datetime.now(UTC),
                                  expires_at=expires_at)
    ctx.append(ma.api_key_stream(api_key_id), [event], NO_STREAM)
    return api_key_id, secret


def _require_key(ctx: CommandContext, api_key_id: int) -> int:
    events, revision = ctx.load(ma.api_key_stream(api_key_id))
    if reduce(ma.evolve, events, None) is None or revision is None:
        raise CommandError("API.API_KEY_NOT_FOUND", f"no API key {api_key_id}", "id")
    return revision


def change_api_key(ctx: CommandContext, api_key_id: int, name: str, expires_at: datetime) -> None:
    revision = _require_key(ctx, api_key_id)
    ctx.append(ma.api_key_stream(api_key_id),
               [ma.MyEmsApiKeyChanged(api_key_id=api_key_id, name=name, expires_at=expires_at)], revision)


def revoke_api_key(ctx: CommandContext, api_key_id: int) -> None:
    revision = _require_key(ctx, api_key_id)
    ctx.append(ma.api_key_stream(api_key_id), [ma.MyEmsApiKeyRevoked(api_key_id=api_key_id)], revision)


def sign_out(ctx: CommandContext, user_id: int, token: str, expires_at: datetime) -> None:
    event = ma.MyEmsTokenRevoked(user_id=user_id, token_sha256=ma.secret_hash(token.removeprefix("Bearer ")),
                                 expires_at=expires_at)
    ctx.append(ma.session_stream(user_id), [event], ANY)


def _check_new_password(password: str, field: str) -> None:
    if len(password) < 8:
        raise CommandError("API.INVALID_NEW_PASSWORD", "a password has at least 8 characters", field)


def change_password(ctx: CommandContext, user_id: int, password_hash: str, old_password: str,
                    new_password: str) -> None:
    """The user's own change: the old password must match (400 ``API.INVALID_OLD_PASSWORD``)."""
    if not verify_password(old_password, password_hash):
        raise CommandError("API.INVALID_OLD_PASSWORD", "the old password is wrong", "old_password")
    _check_new_password(new_password, "new_password")
    set_password(ctx, user_id, new_password, reason="changed")


def set_password(ctx: CommandContext, user_id: int, new_password: str, reason: str = "reset") -> None:
    """Set a user's password (the admin's reset, or after :func:`change_password`'s checks): the
    platform's own command, so the hash lands in the credential stream, never in user events."""
    _check_new_password(new_password, "password")
    users.set_password(ctx, users.SetPassword(user_id=user_id, password=new_password, reason=reason))


def set_profile(ctx: CommandContext, user_id: int, display_name: str, account_expires_at: datetime,
                password_expires_at: datetime) -> None:
    """The user's MyEMS profile: display name, account and password expiry (UTC)."""
    event = ma.MyEmsUserProfileSet(user_id=user_id, display_name=display_name,
                                   account_expires_at=account_expires_at, password_expires_at=password_expires_at)
    ctx.append(ma.user_profile_stream(user_id), [event], ANY)


def create_user(ctx: CommandContext, account_id: int, user: dict, password: str, profile: dict) -> int:
    """A platform user of ``account_id`` (``user``: ``email``, ``username``, ``roles``; the password
    hashed by the platform's registration) with its MyEMS ``profile`` (:func:`set_profile`'s fields)."""
    if len(password) < users.PASSWORD_MIN_LENGTH:
        raise CommandError("API.INVALID_PASSWORD", f"a password has at least {users.PASSWORD_MIN_LENGTH} characters",
                           "password")  # fmt: skip
    user_id = registry.register_user(ctx, registry.RegisterUser(account_id=account_id, password=password, **user))
    set_profile(ctx, user_id, **profile)
    return user_id


def update_user(ctx: CommandContext, user_id: int, email: str, changes: dict, profile: dict) -> None:
    """Change a user's e-mail, ``changes`` (``username``, ``roles``) and MyEMS profile."""
    users.change_email(ctx, user_id, email)
    users.change_user(ctx, users.ChangeUser(user_id=user_id, changes=changes))
    set_profile(ctx, user_id, **profile)


def set_active(ctx: CommandContext, user_id: int, active: bool) -> None:
    """Lock (``False``: the platform's deactivation) or unlock a user."""
    users.change_user(ctx, users.ChangeUser(user_id=user_id, changes={"active": active}))

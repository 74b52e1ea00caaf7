"""Forget a user: crypto-shredding of personal data (admins only; see :mod:`domain.personal_data`).

* ``POST /api/v3_0/users/{user_id}/forget`` → 200 ``{"user_id", "forgotten": true}``: the user is
  removed from the read models (no login, token or API key of theirs works any more), its
  e-mail address may be registered again, and its data key is destroyed — its e-mail and
  username read as ``"[erased]"`` in history, streams, webhooks and exports from then on. The
  events stay as stored, so ``GET /api/audit/verify`` still passes and projections still rebuild.
  404 ``UNRECOGNIZED_USER`` for an unknown (or already forgotten) user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.consistency import REGISTRY
from api.deps import Audit, Commands, Consistency, Services, User
from api.errors import ApiError
from commands.personal_data import ForgetUser, forget_user
from domain import registry as ev

router = APIRouter(prefix="/api/v3_0/users", tags=["users"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/{user_id}/forget")
def forget(
    user_id: Id, user: User, commands: Commands, audit: Audit, consistency: Consistency, services: Services
) -> dict:
    """Forget a user (admins only): destroy their personal-data key, so their e-mail and username read
    as ``"[erased]"`` everywhere while the history still verifies; their logins stop working."""
    if not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "only admins forget users", "user_id")
    if audit.personal_keys is None:
        raise ApiError(503, "PERSONAL_DATA_KEYS_UNAVAILABLE", "this server keeps no personal-data keys")
    forget_user(commands, audit.personal_keys, ForgetUser(user_id=user_id))
    consistency.wait_until_projected(REGISTRY, stream_id=ev.stream_of("user", user_id))
    services.tokens.users.forget_user(user_id)
    return {"user_id": user_id, "forgotten": True}

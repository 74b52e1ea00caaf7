"""Forget a user or an account: crypto-shredding of personal data (see :mod:`domain.personal_data`).

* ``POST /api/v3_0/users/{user_id}/forget`` (admins only) → 200 ``{"user_id", "forgotten": true}``:
  the user is removed from the read models (no login, token or API key of theirs works any
  more), its e-mail address may be registered again, and its data key is destroyed — its e-mail
  and username read as ``"[erased]"`` in history, streams, webhooks and exports from then on.
  The events stay as stored, so ``GET /api/audit/verify`` still passes and projections still
  rebuild. 404 ``UNRECOGNIZED_USER`` for an unknown (or already forgotten) user.
* ``POST /api/v3_0/accounts/{account_id}/forget`` (admins; or an ``account-admin`` of that very
  account) → 200 ``{"account_id", "forgotten": true, "private_assets": n}``: the account's data
  key is destroyed, so the locations of its private assets (``attributes.private: true``,
  :mod:`domain.private_locations`) read as erased everywhere: ``latitude``/``longitude``
  ``null``, address fields ``"[erased]"``. The account, its users, assets and readings stay.
  403 ``INVALID_SENDER`` for anyone else, 404 ``UNRECOGNIZED_ACCOUNT`` for an unknown account,
  409 ``ACCOUNT_FORGOTTEN`` when it was forgotten already.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.consistency import REGISTRY
from api.deps import Audit, Commands, Consistency, ReadConn, Services, User
from api.errors import ApiError
from commands.personal_data import ForgetAccount, ForgetUser, forget_account, forget_user
from domain import registry as ev
from domain.private_locations import is_private
from projections import registry_query as rq

router = APIRouter(prefix="/api/v3_0")
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _require_keys(audit: Audit):
    if audit.personal_keys is None:
        raise ApiError(503, "PERSONAL_DATA_KEYS_UNAVAILABLE", "this server keeps no personal-data keys")
    return audit.personal_keys


@router.post("/users/{user_id}/forget", tags=["users"])
def forget(
    user_id: Id, user: User, commands: Commands, audit: Audit, consistency: Consistency, services: Services
) -> dict:
    """Forget a user (admins only): destroy their personal-data key, so their e-mail and username read
    as ``"[erased]"`` everywhere while the history still verifies; their logins stop working."""
    if not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "only admins forget users", "user_id")
    forget_user(commands, _require_keys(audit), ForgetUser(user_id=user_id))
    consistency.wait_until_projected(REGISTRY, stream_id=ev.stream_of("user", user_id))
    services.tokens.users.forget_user(user_id)
    return {"user_id": user_id, "forgotten": True}


@router.post("/accounts/{account_id}/forget", tags=["accounts"])
def forget_account_locations(
    account_id: Id, user: User, conn: ReadConn, commands: Commands, audit: Audit, consistency: Consistency
) -> dict:
    """Forget an account's personal data (admins, or an account-admin of that account): destroy the
    account's key, so the locations of its private assets (``attributes.private: true``) read as
    erased everywhere — ``latitude``/``longitude`` ``null``, address fields ``"[erased]"`` — while the
    history still verifies. The account, its users (forget them one by one), assets and readings stay.
    ``private_assets``: how many of its assets are private."""
    if not (user.is_admin or ("account-admin" in user.roles and user.account_id == account_id)):
        raise ApiError(403, "INVALID_SENDER", "only admins or the account's account-admins forget it", "account_id")
    if rq.account_by_id(conn, account_id) is None:
        raise ApiError(404, "UNRECOGNIZED_ACCOUNT", f"no account with id {account_id}", "account_id")
    forget_account(commands, _require_keys(audit), ForgetAccount(account_id=account_id))
    consistency.wait_until_projected(REGISTRY, stream_id=ev.stream_of("account", account_id))
    private = [a for a in rq.list_assets(conn, account_id) if is_private(a["attributes"])]
    return {"account_id": account_id, "forgotten": True, "private_assets": len(private)}

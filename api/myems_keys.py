"""MyEMS ``API-Key`` header and signed-out tokens (used by :func:`api.myems.get_myems_user`).

An API key acts as the user who created it, until it expires or is deleted. A session token
signed out with ``PUT /myems/users/logout`` is refused from then on (401 ``API.INVALID_SESSION``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.auth import CurrentUser
from api.deps import ApiServices
from api.errors import ApiError
from projections import myems_access as q
from projections import registry_query as rq


def api_key_user(services: ApiServices, api_key: str) -> CurrentUser:
    """The user an unexpired ``API-Key`` acts as (401 ``API.INVALID_API_KEY`` otherwise)."""
    with services.read_connection() as conn:
        key = q.api_key_by_secret(conn, api_key)
        user = rq.user_by_id(conn, key["user_id"]) if key else None
    if key is None or user is None or not user["active"]:
        raise ApiError(401, "API.INVALID_API_KEY", "unknown or revoked API key", "API-Key")
    if q.expires_utc(key["expires_at"]) <= datetime.now(UTC):
        raise ApiError(401, "API.API_KEY_HAS_EXPIRED", "this API key has expired", "API-Key")
    return CurrentUser(user["id"], user["account_id"], user["email"], tuple(user["roles"]))


def require_session_open(services: ApiServices, token: str) -> None:
    """401 ``API.INVALID_SESSION`` when ``token`` was signed out."""
    with services.read_connection() as conn:
        revoked = q.token_revoked(conn, token)
    if revoked:
        raise ApiError(401, "API.INVALID_SESSION", "this session was signed out; log in again", "Token")

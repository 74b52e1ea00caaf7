"""Authentication: bcrypt passwords, signed expiring tokens in the ``Authorization`` header.

Tokens are ``itsdangerous`` timed signatures of the user id with the platform's secret;
their maximum age is ``FLEXLEDGER_TOKEN_MAX_AGE_S``. A token is sent as the raw header value
(``Authorization: <token>``, as FlexMeasures clients do); ``Bearer <token>`` is accepted too.
A token also carries the user's token epoch (the position of their last password change or
reset): a token issued before a password change or reset is refused.

Long-lived API keys (``flk_<key id>_<secret>``, see :mod:`domain.credentials`) go in the same
header; they work until revoked or past their optional expiry. Tokens and keys of a
deactivated user stop working at once in this process (:meth:`TokenUserCache.forget_user`)
and within the cache's ``ttl_s`` (2 s) in other API processes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.errors import ApiError
from domain import credentials as cr
from projections import registry_query as rq
from projections.credentials import api_key, credentials_of

TOKEN_SALT = "flexledger-auth-token"


@dataclass(frozen=True)
class CurrentUser:
    id: int
    account_id: int
    email: str
    roles: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_read_all(self) -> bool:
        return self.is_admin or "auditor" in self.roles

    def actor(self) -> str:
        return f"user:{self.id}"


class TokenUserCache:
    """A bounded, short-lived map from a verified token to its user (saves a lookup per request).

    An entry lives ``ttl_s`` seconds (default 2 s), and never past its token's expiry, so an
    expired token is refused as before and a changed or removed user is seen within ``ttl_s``.
    At most ``max_entries`` tokens are kept (the oldest is dropped first). Thread-safe.
    """

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 1024, clock=time.monotonic):
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock  # clock: seconds, monotonic
        self._entries: OrderedDict[str, tuple[CurrentUser, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> CurrentUser | None:
        """The cached user of ``token``, or None when absent or stale."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if self.clock() >= entry[1]:
                del self._entries[token]
                return None
            return entry[0]

    def put(self, token: str, user: CurrentUser, token_expires_in_s: float) -> None:
        """Remember ``user`` for ``token`` for ``ttl_s``, at most ``token_expires_in_s`` seconds."""
        if self.ttl_s <= 0 or token_expires_in_s <= 0:
            return
        with self._lock:
            self._entries.pop(token, None)
            self._entries[token] = (user, self.clock() + min(self.ttl_s, token_expires_in_s))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_user(self, user_id: int) -> None:
        """Drop every cached entry of ``user_id`` (after a deactivation, a password reset, a revoked key)."""
        with self._lock:
            for token in [t for t, (user, _) in self._entries.items() if user.id == user_id]:
                del self._entries[token]


class TokenService:
    def __init__(self, secret: str, max_age_s: int, user_cache_ttl_s: float = 2.0):
        self._serializer = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)
        self.max_age_s = max_age_s
        self.users = TokenUserCache(user_cache_ttl_s)

    def issue(self, user_id: int, epoch: int = 0) -> str:
        """A new token of ``user_id``, valid until its max age or the user's next password change
        (``epoch``); a random nonce makes each one distinct, so signing one out (MyEMS logout) spares the next."""
        claims: dict = {"user_id": user_id, "nonce": secrets.token_hex(4)}
        if epoch:
            claims["epoch"] = epoch
        return self._serializer.dumps(claims)

    def user_id(self, token: str) -> int:
        """The user id in a valid, unexpired token; raises ApiError(401) otherwise."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[int, float]:
        """(user id, seconds until the token expires) of a valid, unexpired token; ApiError(401) otherwise."""
        return self.verify_claims(token)[:2]

    def verify_claims(self, token: str) -> tuple[int, float, int]:
        """(user id, seconds until expiry, token epoch) of a valid, unexpired token; ApiError(401) otherwise."""
        token = token.removeprefix("Bearer ").strip()
        try:
            data, issued_at = self._serializer.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except SignatureExpired as exc:
            raise ApiError(401, "TOKEN_EXPIRED", "the auth token has expired; request a new one") from exc
        except BadSignature as exc:
            raise ApiError(401, "UNAUTHORIZED", "invalid auth token") from exc
        expires_in_s = issued_at.timestamp() + self.max_age_s - time.time()
        return int(data["user_id"]), expires_in_s, int(data.get("epoch", 0))


def password_hash_of(credentials: dict | None, user_row: dict | None) -> str | None:
    """The user's bcrypt hash: from the credentials projection, else (read models projected before
    credentials had their own streams, until that projection caught up) the users row."""
    if credentials is not None:
        return credentials["password_hash"]
    return (user_row or {}).get("password_hash") or None


def token_epoch(conn: sa.Connection, user_id: int) -> int:
    """The user's current token epoch (0 when the password never changed)."""
    row = credentials_of(conn, user_id)
    return row["token_epoch"] if row else 0


def authenticate(conn: sa.Connection, tokens: TokenService, authorization: str) -> tuple[CurrentUser, float]:
    """The active user of an auth token or API key, and for how many seconds that answer holds
    (until the token's or key's expiry); ApiError(401) otherwise."""
    raw = authorization.removeprefix("Bearer ").strip()
    key = cr.parse_api_key(raw)
    if key is not None:
        user_id, valid_for_s = _api_key_user(conn, *key)
    else:
        user_id, valid_for_s, epoch = tokens.verify_claims(raw)
        if epoch != token_epoch(conn, user_id):
            raise ApiError(401, "UNAUTHORIZED", "the password changed since this token was issued; log in again")
    row = rq.user_by_id(conn, user_id)
    if row is None or not row["active"]:
        raise ApiError(401, "UNAUTHORIZED", "the user of this token no longer exists or is inactive")
    return CurrentUser(row["id"], row["account_id"], row["email"], tuple(row["roles"])), valid_for_s


def _api_key_user(conn: sa.Connection, key_id: str, secret: str) -> tuple[int, float]:
    row = api_key(conn, key_id)
    if row is None or not cr.key_matches(secret, row["key_hash"]):
        raise ApiError(401, "UNAUTHORIZED", "invalid API key")
    if row["revoked_at"] is not None:
        raise ApiError(401, "UNAUTHORIZED", "this API key was revoked")
    if row["expires_at"] is None:
        return row["user_id"], float("inf")
    expires_at = row["expires_at"] if row["expires_at"].tzinfo else row["expires_at"].replace(tzinfo=UTC)
    remaining_s = (expires_at - datetime.now(UTC)).total_seconds()
    if remaining_s <= 0:
        raise ApiError(401, "TOKEN_EXPIRED", "this API key has expired")
    return row["user_id"], remaining_s

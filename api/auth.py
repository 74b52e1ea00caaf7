"""Authentication: bcrypt passwords, signed expiring tokens in the ``Authorization`` header.

Tokens are ``itsdangerous`` timed signatures of the user id with the platform's secret;
their maximum age is ``FLEXLEDGER_TOKEN_MAX_AGE_S``. A token is sent as the raw header value
(``Authorization: <token>``, as FlexMeasures clients do); ``Bearer <token>`` is accepted too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.errors import ApiError

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


class TokenService:
    def __init__(self, secret: str, max_age_s: int, user_cache_ttl_s: float = 2.0):
        self._serializer = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)
        self.max_age_s = max_age_s
        self.users = TokenUserCache(user_cache_ttl_s)

    def issue(self, user_id: int) -> str:
        """A new token; a random nonce makes each one distinct, so signing one out (MyEMS logout) spares the next."""
        return self._serializer.dumps({"user_id": user_id, "nonce": secrets.token_hex(4)})

    def user_id(self, token: str) -> int:
        """The user id in a valid, unexpired token; raises ApiError(401) otherwise."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[int, float]:
        """(user id, seconds until the token expires) of a valid, unexpired token; ApiError(401) otherwise."""
        token = token.removeprefix("Bearer ").strip()
        try:
            data, issued_at = self._serializer.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except SignatureExpired as exc:
            raise ApiError(401, "TOKEN_EXPIRED", "the auth token has expired; request a new one") from exc
        except BadSignature as exc:
            raise ApiError(401, "UNAUTHORIZED", "invalid auth token") from exc
        return int(data["user_id"]), issued_at.timestamp() + self.max_age_s - time.time()

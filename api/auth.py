"""Authentication: bcrypt passwords, signed expiring tokens in the ``Authorization`` header.

Tokens are ``itsdangerous`` timed signatures of the user id with the platform's secret;
their maximum age is ``FLEXLEDGER_TOKEN_MAX_AGE_S``. A token is sent as the raw header value
(``Authorization: <token>``, as FlexMeasures clients do); ``Bearer <token>`` is accepted too.
"""

from __future__ import annotations

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


class TokenService:
    def __init__(self, secret: str, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret, salt=TOKEN_SALT)
        self.max_age_s = max_age_s

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"user_id": user_id})

    def user_id(self, token: str) -> int:
        """The user id in a valid, unexpired token; raises ApiError(401) otherwise."""
        token = token.removeprefix("Bearer ").strip()
        try:
            data = self._serializer.loads(token, max_age=self.max_age_s)
        except SignatureExpired as exc:
            raise ApiError(401, "TOKEN_EXPIRED", "the auth token has expired; request a new one") from exc
        except BadSignature as exc:
            raise ApiError(401, "UNAUTHORIZED", "invalid auth token") from exc
        return int(data["user_id"])

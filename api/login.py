"""Password login, shared by every API that logs users in: FlexMeasures' ``requestAuthToken``,
MyEMS' ``PUT /myems/users/login`` and the dashboard's session login.

The password is checked against the credentials projection (hashes live in ``credential-<user>``
streams, never in user events); a user registered a moment ago is waited for (bounded) until
that projection holds their credentials. A deactivated user cannot log in. The token carries
the user's token epoch, so a password change ends older tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.auth import TokenService, password_hash_of
from api.deps import ApiServices
from api.errors import ApiError
from commands.registry import verify_password
from domain.credentials import credential_stream
from projections import registry_query as rq
from projections.credentials import credentials_of


@dataclass(frozen=True)
class Login:
    user: dict
    """The user's read-model row."""
    token: str


def password_login(services: ApiServices, tokens: TokenService, email: str, password: str) -> Login:
    """The user of ``email`` and a fresh token, when ``password`` is theirs; ApiError(401) otherwise."""
    with services.read_connection() as conn:
        user = rq.user_by_email(conn, email)
        credentials = credentials_of(conn, user["id"]) if user else None
    if user is not None and credentials is None and not user.get("password_hash"):  # a user registered just now
        stream = credential_stream(user["id"])
        services.consistency.wait_until_projected("projection.credentials", stream_id=stream)
        with services.read_connection() as conn:
            credentials = credentials_of(conn, user["id"])
    password_hash = password_hash_of(credentials, user)
    if user is None or not password_hash or not verify_password(password, password_hash):
        raise ApiError(401, "UNAUTHORIZED", "wrong e-mail or password", "email")
    if not user["active"]:
        raise ApiError(401, "UNAUTHORIZED", "this user is deactivated", "email")
    epoch = credentials["token_epoch"] if credentials else 0
    return Login(user, tokens.issue(user["id"], epoch))

"""Read model of credentials: password hashes (with the token epoch) and API keys.

A projection of its own (``credentials``), fed by the ``credential-<user id>`` streams and by
the version-1 user events that still carry a hash in their stored data (read raw: their
upcast versions no longer show it). ``token_epoch`` is the global position of the last
password change or reset (0: never): auth tokens issued before it are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import credentials as cr
from domain.events import RecordedEvent
from projections.forgetting import forget_user_rows, is_forgotten_registration

metadata = sa.MetaData()
user_credentials = sa.Table(
    "user_credentials",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("token_epoch", sa.BigInteger, nullable=False),
)
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


def _set_password(conn: Connection, user_id: int, password_hash: str, token_epoch: int) -> None:
    conn.execute(user_credentials.delete().where(user_credentials.c.user_id == user_id))
    conn.execute(
        user_credentials.insert().values(user_id=user_id, password_hash=password_hash, token_epoch=token_epoch)
    )


def _apply(conn: Connection, recorded: RecordedEvent) -> None:
    if recorded.type in ("UserRegistered", "UserPasswordChanged"):  # version 1 carried the hash
        legacy_hash = recorded.data.get("password_hash") if recorded.schema_version == 1 else None
        if legacy_hash and not is_forgotten_registration(recorded.data):
            epoch = 0 if recorded.type == "UserRegistered" else recorded.global_position
            _set_password(conn, recorded.data["user_id"], legacy_hash, epoch)
        return
    if recorded.type == "UserForgotten":  # crypto-shredded: no password, no key works any more
        forget_user_rows(conn, recorded.data["user_id"], user_credentials.c.user_id, api_keys.c.user_id)
        return
    event = recorded.decode()
    if isinstance(event, cr.PasswordHashSet):
        epoch = 0 if event.reason == "registered" else recorded.global_position
        _set_password(conn, event.user_id, event.password_hash, epoch)
    elif isinstance(event, cr.ApiKeyIssued):
        conn.execute(api_keys.delete().where(api_keys.c.key_id == event.key_id))
        conn.execute(
            api_keys.insert().values(
                key_id=event.key_id,
                user_id=event.user_id,
                name=event.name,
                key_hash=event.key_hash,
                created_at=recorded.metadata.recorded_at,
                expires_at=event.expires_at,
            )
        )
    elif isinstance(event, cr.ApiKeyRevoked):
        revoke = api_keys.update().where(api_keys.c.key_id == event.key_id, api_keys.c.revoked_at.is_(None))
        conn.execute(revoke.values(revoked_at=recorded.metadata.recorded_at))


class CredentialsProjection:
    """Password hashes and API keys (never served to clients; used to authenticate)."""

    name = "credentials"
    event_types = frozenset(
        {"PasswordHashSet", "ApiKeyIssued", "ApiKeyRevoked", "UserRegistered", "UserPasswordChanged", "UserForgotten"}
    )
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            _apply(conn, event)


_CREDENTIALS_OF = sa.select(user_credentials).where(user_credentials.c.user_id == sa.bindparam("user_id"))
_KEY = sa.select(api_keys).where(api_keys.c.key_id == sa.bindparam("key_id"))


def credentials_of(conn: Connection, user_id: int) -> dict | None:
    row = conn.execute(_CREDENTIALS_OF, {"user_id": user_id}).mappings().first()
    return dict(row) if row else None


def api_key(conn: Connection, key_id: str) -> dict | None:
    row = conn.execute(_KEY, {"key_id": key_id}).mappings().first()
    return dict(row) if row else None


def list_api_keys(conn: Connection, user_id: int) -> list[dict]:
    query = sa.select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.created_at)
    return [dict(r) for r in conn.execute(query).mappings()]

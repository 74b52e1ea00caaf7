"""Read model of MyEMS API keys, signed-out session tokens (hashes only, never secrets) and user profiles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import myems_access as ma
from domain.events import RecordedEvent
from domain.personal_data import UserForgotten
from projections.registry import users

metadata = sa.MetaData()
myems_api_keys = sa.Table(
    "myems_api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
myems_revoked_tokens = sa.Table(
    "myems_revoked_tokens",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

myems_user_profiles = sa.Table(
    "myems_user_profiles",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("account_expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_expires_at", sa.DateTime(timezone=True), nullable=False),
)


def _set_profile(conn: Connection, event: ma.MyEmsUserProfileSet) -> None:
    conn.execute(myems_user_profiles.delete().where(myems_user_profiles.c.user_id == event.user_id))
    conn.execute(myems_user_profiles.insert().values(**event.model_dump()))


class MyEmsAccessProjection:
    name = "myems_access"
    event_types = frozenset({"MyEmsApiKeyCreated", "MyEmsApiKeyChanged", "MyEmsApiKeyRevoked", "MyEmsTokenRevoked",
                             "MyEmsUserProfileSet", "UserForgotten"})  # fmt: skip
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            key = myems_api_keys.c.id == getattr(event, "api_key_id", None)
            if isinstance(event, ma.MyEmsApiKeyCreated):
                conn.execute(myems_api_keys.delete().where(key))  # idempotent on replay
                conn.execute(myems_api_keys.insert().values(id=event.api_key_id, **event.model_dump(
                    exclude={"api_key_id"})))
            elif isinstance(event, ma.MyEmsApiKeyChanged):
                conn.execute(myems_api_keys.update().where(key).values(name=event.name, expires_at=event.expires_at))
            elif isinstance(event, ma.MyEmsApiKeyRevoked):
                conn.execute(myems_api_keys.delete().where(key))
            elif isinstance(event, ma.MyEmsUserProfileSet):
                _set_profile(conn, event)
            elif isinstance(event, UserForgotten):  # its display name is personal data
                conn.execute(myems_user_profiles.delete().where(myems_user_profiles.c.user_id == event.user_id))
            elif isinstance(event, ma.MyEmsTokenRevoked):
                row = myems_revoked_tokens.c.token_sha256 == event.token_sha256
                conn.execute(myems_revoked_tokens.delete().where(row))
                conn.execute(myems_revoked_tokens.insert().values(**event.model_dump()))


def _as_dict(row) -> dict | None:
    return dict(row) if row else None


def api_keys(conn: Connection, account_id: int | None) -> list[dict]:
    query = sa.select(myems_api_keys).order_by(myems_api_keys.c.id)
    if account_id is not None:
        query = query.where(myems_api_keys.c.account_id == account_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def api_key_by_id(conn: Connection, api_key_id: int) -> dict | None:
    return _as_dict(conn.execute(sa.select(myems_api_keys).where(myems_api_keys.c.id == api_key_id)).mappings().first())


def api_key_by_name(conn: Connection, name: str) -> dict | None:
    return _as_dict(conn.execute(sa.select(myems_api_keys).where(myems_api_keys.c.name == name)).mappings().first())


def api_key_by_secret(conn: Connection, secret: str) -> dict | None:
    query = sa.select(myems_api_keys).where(myems_api_keys.c.token_sha256 == ma.secret_hash(secret))
    return _as_dict(conn.execute(query).mappings().first())


def token_revoked(conn: Connection, token: str) -> bool:
    query = sa.select(myems_revoked_tokens.c.user_id).where(
        myems_revoked_tokens.c.token_sha256 == ma.secret_hash(token.removeprefix("Bearer ")))
    return conn.execute(query).first() is not None


def user_by_name(conn: Connection, name: str) -> dict | None:
    """A user by MyEMS ``name`` (the platform's username) or e-mail address."""
    query = sa.select(users).where(sa.or_(users.c.username == name, users.c.email == name.lower())).order_by(users.c.id)
    return _as_dict(conn.execute(query).mappings().first())


def expires_utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def user_profile(conn: Connection, user_id: int) -> dict | None:
    """A user's MyEMS profile (display name, expiries), if MyEMS set one."""
    query = sa.select(myems_user_profiles).where(myems_user_profiles.c.user_id == user_id)
    return _as_dict(conn.execute(query).mappings().first())

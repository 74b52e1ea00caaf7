"""Handlers of registry commands: accounts, users, assets, sensors."""

from __future__ import annotations

from functools import reduce
from typing import Any

import bcrypt
from pydantic import BaseModel, Field

from commands.context import CommandContext, CommandError
from commands.user_emails import free_email_stream
from domain import credentials as cr
from domain import registry as ev
from domain.ports.event_store import ANY, NO_STREAM, WrongExpectedRevision
from domain.units import UnitError, parse_unit


class RegisterAccount(BaseModel):
    name: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)


class RegisterUser(BaseModel):
    email: str = Field(min_length=3)
    password: str = Field(min_length=8)
    account_id: int
    roles: list[str] = Field(default_factory=list)
    username: str | None = None
    timezone: str = "Europe/Amsterdam"


class RegisterAsset(BaseModel):
    account_id: int
    name: str = Field(min_length=1)
    asset_type: str
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    parent_asset_id: int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    flex_context: dict[str, Any] = Field(default_factory=dict)
    flex_model: dict[str, Any] | list[Any] = Field(default_factory=dict)
    sensors_to_show: list[Any] = Field(default_factory=list)


class ChangeAsset(BaseModel):
    asset_id: int
    changes: dict[str, Any]


class DeleteAsset(BaseModel):
    asset_id: int


class RegisterSensor(BaseModel):
    asset_id: int
    name: str = Field(min_length=1)
    unit: str
    event_resolution_s: int = Field(ge=0)
    timezone: str = "UTC"
    attributes: dict[str, Any] = Field(default_factory=dict)


class ChangeSensor(BaseModel):
    sensor_id: int
    changes: dict[str, Any]
    has_data: bool = False


class DeleteSensor(BaseModel):
    sensor_id: int


def hash_password(password: str) -> str:
    """bcrypt hash (cost 12 by default; tests may lower it through the environment)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=_BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches the bcrypt ``password_hash`` (an empty or malformed hash: False)."""
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


_BCRYPT_ROUNDS = 12


def set_bcrypt_rounds(rounds: int) -> None:
    global _BCRYPT_ROUNDS  # noqa: PLW0603 - a deliberate, process-wide security setting
    _BCRYPT_ROUNDS = rounds


def register_account(ctx: CommandContext, cmd: RegisterAccount) -> int:
    account_id = ctx.reserve_id("account")
    ctx.append(
        ev.stream_of("account", account_id),
        [ev.AccountRegistered(account_id=account_id, **cmd.model_dump())],
        NO_STREAM,
    )
    return account_id


def load_account(ctx: CommandContext, account_id: int) -> ev.AccountRegistered | None:
    """The account as it is now (``None``: never registered, or deleted)."""
    events, _ = ctx.load(ev.stream_of("account", account_id))
    return reduce(ev.evolve_account, events, None)


def change_account(ctx: CommandContext, account_id: int, changes: dict[str, Any]) -> None:
    """Rename an account (``{"name": ...}``)."""
    events, revision = ctx.load(ev.stream_of("account", account_id))
    current = reduce(ev.evolve_account, events, None)
    if current is None:
        raise CommandError("UNKNOWN_ACCOUNT", f"no account {account_id}", "account_id")
    try:
        change = ev.decide_account_change(current, changes)
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    ctx.append(ev.stream_of("account", account_id), [change], revision)


def delete_account(ctx: CommandContext, account_id: int) -> None:
    """Delete an account (the caller checks it has no users, assets or other objects left)."""
    events, revision = ctx.load(ev.stream_of("account", account_id))
    if reduce(ev.evolve_account, events, None) is None:
        raise CommandError("UNKNOWN_ACCOUNT", f"no account {account_id}", "account_id")
    ctx.append(ev.stream_of("account", account_id), [ev.AccountDeleted(account_id=account_id)], revision)


def register_user(ctx: CommandContext, cmd: RegisterUser) -> int:
    for role in cmd.roles:
        if role not in ev.USER_ROLES:
            raise CommandError("INVALID_ROLE", f"unknown role {role!r}; known: {', '.join(ev.USER_ROLES)}", "roles")
    if load_account(ctx, cmd.account_id) is None:
        raise CommandError("UNKNOWN_ACCOUNT", f"no account {cmd.account_id}", "account_id")
    free = free_email_stream(ctx.store, cmd.email)
    if free is None:
        raise CommandError("DUPLICATE_EMAIL", f"a user with e-mail {cmd.email} exists", "email")
    user_id = ctx.reserve_id("user")
    try:  # the e-mail stream makes e-mail addresses unique (its revision guards against a race)
        ctx.append(free[0], [ev.IdReserved(kind="user-email", id=user_id)], free[1])
    except WrongExpectedRevision as exc:  # only a real duplicate: other errors propagate as they are
        raise CommandError("DUPLICATE_EMAIL", f"a user with e-mail {cmd.email} exists", "email") from exc
    event = ev.UserRegistered(
        user_id=user_id,
        account_id=cmd.account_id,
        email=cmd.email.lower(),
        username=cmd.username or cmd.email.split("@")[0],
        roles=cmd.roles,
        timezone=cmd.timezone,
    )
    ctx.append(ev.stream_of("user", user_id), [event], NO_STREAM)
    credential = cr.PasswordHashSet(user_id=user_id, password_hash=hash_password(cmd.password), reason="registered")
    ctx.append(cr.credential_stream(user_id), [credential], ANY)  # the hash stays out of the user's events
    return user_id


def register_asset(ctx: CommandContext, cmd: RegisterAsset) -> int:
    try:  # the id is not reserved yet: 0 stands for it (no asset can have it as an ancestor)
        ev.check_asset(ev.AssetRegistered(asset_id=0, **cmd.model_dump()), lambda id_: load_asset(ctx, id_))
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    asset_id = ctx.reserve_id("asset")
    ctx.append(ev.stream_of("asset", asset_id), [ev.AssetRegistered(asset_id=asset_id, **cmd.model_dump())], NO_STREAM)
    return asset_id


def _current(ctx: CommandContext, kind: str, entity_id: int):
    """(current state or ``None``, stream revision) of an asset or sensor."""
    events, revision = ctx.load(ev.stream_of(kind, entity_id))
    return reduce(ev.evolve, events, None), revision


def load_asset(ctx: CommandContext, asset_id: int) -> ev.AssetRegistered | None:
    return _current(ctx, "asset", asset_id)[0]


def change_asset(ctx: CommandContext, cmd: ChangeAsset) -> None:
    """Append the change only when the asset it produces is valid (the registry projection can apply it)."""
    current, revision = _require(ctx, "asset", cmd.asset_id)
    try:
        change = ev.decide_asset_change(current, cmd.changes, lambda id_: load_asset(ctx, id_))
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    ctx.append(ev.stream_of("asset", cmd.asset_id), [change], revision)


def delete_asset(ctx: CommandContext, cmd: DeleteAsset) -> None:
    _, revision = _require(ctx, "asset", cmd.asset_id)
    ctx.append(ev.stream_of("asset", cmd.asset_id), [ev.AssetDeleted(asset_id=cmd.asset_id)], revision)


def _require(ctx: CommandContext, kind: str, entity_id: int):
    """Like :func:`_current`, but refused (UNRECOGNIZED_ASSET / _SENSOR) when the entity does not exist (any more)."""
    state, revision = _current(ctx, kind, entity_id)
    if state is None:
        code = "UNRECOGNIZED_ASSET" if kind == "asset" else "UNRECOGNIZED_SENSOR"
        raise CommandError(code, f"no {kind} {entity_id}", f"{kind}_id")
    return state, revision


def register_sensor(ctx: CommandContext, cmd: RegisterSensor) -> int:
    try:
        parse_unit(cmd.unit)
    except UnitError as exc:
        raise CommandError("INVALID_UNIT", str(exc), "unit") from exc
    if load_asset(ctx, cmd.asset_id) is None:
        raise CommandError("UNRECOGNIZED_ASSET", f"no asset {cmd.asset_id}", "generic_asset_id")
    try:
        ev.check_sensor(ev.SensorRegistered(sensor_id=0, **cmd.model_dump()))
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    sensor_id = ctx.reserve_id("sensor")
    ctx.append(
        ev.stream_of("sensor", sensor_id), [ev.SensorRegistered(sensor_id=sensor_id, **cmd.model_dump())], NO_STREAM
    )
    return sensor_id


def load_sensor(ctx: CommandContext, sensor_id: int) -> ev.SensorRegistered | None:
    return _current(ctx, "sensor", sensor_id)[0]


def change_sensor(ctx: CommandContext, cmd: ChangeSensor) -> None:
    current, revision = _require(ctx, "sensor", cmd.sensor_id)
    if isinstance(cmd.changes.get("unit"), str):  # not a string: refused by decide_sensor_change
        try:
            parse_unit(cmd.changes["unit"])
        except UnitError as exc:
            raise CommandError("INVALID_UNIT", str(exc), "unit") from exc
    try:
        change = ev.decide_sensor_change(current, cmd.changes, cmd.has_data)
    except ev.RegistryError as exc:
        raise CommandError.from_registry(exc) from exc
    ctx.append(ev.stream_of("sensor", cmd.sensor_id), [change], revision)


def delete_sensor(ctx: CommandContext, cmd: DeleteSensor) -> None:
    _, revision = _require(ctx, "sensor", cmd.sensor_id)
    ctx.append(ev.stream_of("sensor", cmd.sensor_id), [ev.SensorDeleted(sensor_id=cmd.sensor_id)], revision)

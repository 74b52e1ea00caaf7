"""Command handlers: stable codes without HTTP, and only a real duplicate is DUPLICATE_EMAIL.

Runs on the embedded SQLite event store in a temporary directory; :class:`FailingAppends` is a
wrapper of that real adapter whose appends to one stream category fail like a broken disk.
"""

from __future__ import annotations

import pytest
from stores import prepared

from commands.context import CommandContext, CommandError
from commands.registry import RegisterAccount, RegisterUser, register_account, register_user, set_bcrypt_rounds
from domain.ports.event_store import EventStoreError
from infra.eventstore.sqlite import SqliteEventStore


class FailingAppends:
    """The real store, but appends to streams starting with ``prefix`` raise ``EventStoreError``."""

    def __init__(self, store, prefix: str):
        self.store, self.prefix = store, prefix

    def append(self, stream_id, events, expected_revision):
        if stream_id.startswith(self.prefix):
            raise EventStoreError("disk I/O error")
        return self.store.append(stream_id, events, expected_revision)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


@pytest.fixture
def store(tmp_path):
    set_bcrypt_rounds(4)
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    yield store
    store.close()


def _user(account_id: int, email: str = "ann@example.com") -> RegisterUser:
    return RegisterUser(account_id=account_id, email=email, password="correct horse battery")


def test_a_second_user_with_the_same_email_is_a_duplicate(store) -> None:
    ctx = CommandContext(store)
    account = register_account(ctx, RegisterAccount(name="Alpha"))
    register_user(ctx, _user(account))
    with pytest.raises(CommandError) as refused:
        register_user(ctx, _user(account, "ANN@example.com"))
    assert (refused.value.code, refused.value.field) == ("DUPLICATE_EMAIL", "email")


def test_a_store_failure_is_not_reported_as_a_duplicate(store) -> None:
    account = register_account(CommandContext(store), RegisterAccount(name="Alpha"))
    broken = CommandContext(FailingAppends(store, "useremail-"))  # type: ignore[arg-type]
    with pytest.raises(EventStoreError):
        register_user(broken, _user(account))


def test_command_errors_carry_a_code_and_a_field_but_no_http_status(store) -> None:
    with pytest.raises(CommandError) as refused:
        register_user(CommandContext(store), _user(account_id=99))
    assert (refused.value.code, refused.value.field) == ("UNKNOWN_ACCOUNT", "account_id")
    assert not hasattr(refused.value, "status")


def test_every_command_has_one_handler_with_the_uniform_signature() -> None:
    import inspect

    from pydantic import BaseModel

    from commands import readings, registry, scheduling
    from commands.handlers import HANDLERS

    commands = {
        obj
        for module in (registry, readings, scheduling)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
    }
    assert commands <= set(HANDLERS), f"commands without a handler: {commands - set(HANDLERS)}"
    for command, handler in HANDLERS.items():
        required = [p for p in inspect.signature(handler).parameters.values() if p.default is p.empty]
        assert [p.name for p in required][:1] == ["ctx"] and len(required) == 2, (command, handler)


def test_the_table_dispatches_by_command_type(store) -> None:
    from commands.handlers import handle

    ctx = CommandContext(store)
    account = handle(ctx, RegisterAccount(name="Alpha"))
    assert handle(ctx, _user(account)) >= 1
    with pytest.raises(TypeError):
        handle(ctx, {"name": "not a command"})

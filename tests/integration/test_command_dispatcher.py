"""The command dispatcher over a real SQLite event store and simulated devices, on a manual clock:
dispatch and ack, reject, silence -> retries -> expired, unreachable -> retry after reconnect,
cancel, idempotency, and a restart between dispatch and ack (no loss, no second dispatch)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from stores import prepared

from commands.context import CommandContext, CommandError
from commands.device_commands import cancel_command, load_command, request_command
from commands.registry import RegisterAccount, RegisterAsset, register_account, register_asset
from domain import device_commands as dc
from domain.events import EventMetadata
from infra.eventstore.postgres import PostgresEventStore
from infra.eventstore.sqlite import SqliteEventStore
from infra.gateways.simulated import SimulatedDevices, SimulatedGateway
from streams.command_dispatcher import CommandDispatcher


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def event_store(kind: str, tmp_path):
    if kind == "sqlite":
        yield prepared(SqliteEventStore(tmp_path / "events.db"))
        return
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        yield prepared(PostgresEventStore(url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, tmp_path):
    with event_store(request.param, tmp_path) as store:
        yield from _world(store)


def _world(store):
    clock = Clock()
    ctx = CommandContext(store, clock, EventMetadata(actor="user:1", correlation_id="req-1"))
    account = register_account(ctx, RegisterAccount(name="a"))
    asset = register_asset(
        ctx, RegisterAsset(account_id=account, name="hp", asset_type="heat_pump", attributes={"simulated": True})
    )
    devices = SimulatedDevices()
    yield store, clock, ctx, asset, devices
    store.close()


def _dispatcher(ctx, devices) -> CommandDispatcher:
    gateway = SimulatedGateway(devices)
    gateway.start()
    return CommandDispatcher(ctx, {"simulated": gateway})


def _run(dispatcher: CommandDispatcher, store) -> None:
    """Apply every command event stored so far, then tick once."""
    dispatcher.apply(store.read_all(dispatcher.position, 10_000, stream_prefix="command-"))
    dispatcher.tick()


def _request(ctx, asset, **kw):
    return request_command(ctx, dc.DeviceCommandRequest(asset_id=asset, action="set_power",
                                                        parameters={"power_kw": 3.5}, **kw))[0]


def _status(ctx, state) -> str:
    return load_command(ctx, state.command_id)[0].status


def test_dispatch_and_ack_every_event_correlated(world):
    store, _clock, ctx, asset, devices = world
    dispatcher = _dispatcher(ctx, devices)
    command = _request(ctx, asset, reason="schedule 42")
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.ACKNOWLEDGED
    recorded = store.read_stream(dc.command_stream(command.command_id))
    assert [r.type for r in recorded] == ["DeviceCommandRequested", "DeviceCommandDispatched",
                                          "DeviceCommandAcknowledged"]
    assert {r.metadata.correlation_id for r in recorded} == {"req-1"}
    assert [r.metadata.actor for r in recorded] == ["user:1", "system:dispatcher", "device:simulated"]
    assert recorded[2].metadata.causation_id == str(recorded[1].event_id)
    assert recorded[0].data["reason"] == "schedule 42"
    assert len(devices.get(f"asset-{asset}").received) == 1
    assert dispatcher.open_count() == 0


def test_reject(world):
    store, _clock, ctx, asset, devices = world
    devices.get(f"asset-{asset}").behaviour = "reject"
    dispatcher = _dispatcher(ctx, devices)
    command = _request(ctx, asset)
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.REJECTED


def test_silence_is_retried_then_expires(world):
    store, clock, ctx, asset, devices = world
    device = devices.get(f"asset-{asset}")
    device.behaviour = "silent"
    dispatcher = _dispatcher(ctx, devices)
    command = _request(ctx, asset, ack_timeout_s=5, max_attempts=2, retry_backoff_s=1)
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.DISPATCHED
    clock.advance(5)
    _run(dispatcher, store)  # no reply: a retry is scheduled
    assert _status(ctx, command) == dc.SCHEDULED
    clock.advance(1)
    _run(dispatcher, store)
    assert [c.attempt for c in device.received] == [1, 2]
    clock.advance(5)
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.EXPIRED
    clock.advance(60)
    _run(dispatcher, store)
    assert len(device.received) == 2


def test_unreachable_device_gets_it_after_reconnect(world):
    store, clock, ctx, asset, devices = world
    device = devices.get(f"asset-{asset}")
    device.connected = False
    dispatcher = _dispatcher(ctx, devices)
    command = _request(ctx, asset, retry_backoff_s=2)
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.SCHEDULED and device.received == []
    device.connected = True
    clock.advance(2)
    _run(dispatcher, store)
    assert _status(ctx, command) == dc.ACKNOWLEDGED
    assert [c.attempt for c in device.received] == [2]


def test_scheduled_command_waits_and_can_be_cancelled(world):
    store, clock, ctx, asset, devices = world
    dispatcher = _dispatcher(ctx, devices)
    later = _request(ctx, asset, execute_at=clock.now + timedelta(minutes=5))
    cancelled = _request(ctx, asset, execute_at=clock.now + timedelta(minutes=5))
    _run(dispatcher, store)
    assert _status(ctx, later) == dc.SCHEDULED
    cancel_command(ctx, cancelled.command_id, "plan changed")
    clock.advance(300)
    _run(dispatcher, store)
    assert _status(ctx, later) == dc.ACKNOWLEDGED
    assert _status(ctx, cancelled) == dc.CANCELLED
    assert len(devices.get(f"asset-{asset}").received) == 1
    with pytest.raises(CommandError) as err:
        cancel_command(ctx, later.command_id)
    assert err.value.code == "COMMAND_NOT_CANCELLABLE"


def test_idempotency_key_dispatches_once(world):
    store, _clock, ctx, asset, devices = world
    dispatcher = _dispatcher(ctx, devices)
    first = _request(ctx, asset, idempotency_key="k-1")
    again, created = request_command(
        ctx, dc.DeviceCommandRequest(asset_id=asset, action="set_power", parameters={"power_kw": 3.5},
                                     idempotency_key="k-1")
    )
    assert (again.command_id, created) == (first.command_id, False)
    _run(dispatcher, store)
    _run(dispatcher, store)
    assert len(devices.get(f"asset-{asset}").received) == 1
    with pytest.raises(CommandError) as err:
        request_command(ctx, dc.DeviceCommandRequest(asset_id=asset, action="set_power", parameters={"power_kw": 1},
                                                     idempotency_key="k-1"))
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_restart_between_dispatch_and_ack_neither_loses_nor_redispatches(world):
    store, clock, ctx, asset, devices = world
    device = devices.get(f"asset-{asset}")
    device.behaviour = "hold"
    first = _dispatcher(ctx, devices)
    command = _request(ctx, asset, ack_timeout_s=30)
    _run(first, store)
    assert _status(ctx, command) == dc.DISPATCHED
    first.gateways["simulated"].stop()  # the platform goes down; the device still holds the command

    open_ids = [str(command.command_id)]
    second = CommandDispatcher(ctx, {"simulated": SimulatedGateway(devices)},
                               recover=lambda: (store.head_position(), open_ids))
    second.gateways["simulated"].start()
    second.start()
    clock.advance(10)
    _run(second, store)
    assert len(device.received) == 1  # not sent again
    assert device.release() == 1  # the device answers now, to the new platform
    assert _status(ctx, command) == dc.ACKNOWLEDGED
    clock.advance(60)
    _run(second, store)
    assert len(device.received) == 1

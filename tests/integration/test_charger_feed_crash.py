"""A charger event stored just before a crash still becomes its session event after a restart.

The OCPP sink appends a charger's events, then feeds them to the session feed. A process that
dies between the two leaves an event stored but not fed. With the platform's checkpoint store,
the feed of the restarted process records every charger event after the last one it recorded,
so the charger's next message also records the one the crash left behind.

Scenario (embedded SQLite, the API harness's world, fixed 2026-01-05 times): an EVSE with an
energy sensor; ``Preparing`` is fed (a plug-in); ``Charging`` is appended to the charger's
stream without being fed (the crash); a new sink (the restart) receives ``SuspendedEV``. The
session must hold the plug-in, the start of charging and the suspension, each once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_api_support import ApiHarness

from commands import ev as evc
from commands import registry as cmd
from commands.device_telemetry import ChargerSink
from domain import chargers as ch
from domain import ev
from domain.ports.event_store import ANY

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SESSION_TYPES = {"EvPluggedIn", "ChargingStarted", "ConnectionStateChanged", "ChargingStopped", "EvPluggedOut"}


@pytest.fixture
def harness(tmp_path):
    with ApiHarness(tmp_path) as h:
        ctx, asset = h.platform.commands, h.asset("CS 1")
        energy = cmd.register_sensor(
            ctx, cmd.RegisterSensor(asset_id=asset, name="energy", unit="kWh", event_resolution_s=900)
        )
        evc.register_evse(
            ctx,
            ev.EvseRegistered(
                asset_id=asset, account_id=h.world.accounts["Alpha"], make="Alfen", model="Eve", energy_sensor_id=energy
            ),
        )  # fmt: skip
        yield h


def _status(status: str, minutes: int) -> dict:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"connector_id": 1, "error_code": "NoError", "status": status, "timestamp": at}


def _session_events(h: ApiHarness) -> list[str]:
    return [r.type for r in h.platform.store.read_all(0, 100_000) if r.type in SESSION_TYPES]


def test_an_event_stored_but_not_fed_before_a_crash_is_recorded_after_the_restart(harness) -> None:
    h = harness
    asset = {"id": h.asset("CS 1"), "attributes": {}}
    ctx, checkpoints = h.platform.commands, h.platform.checkpoints
    before_crash = ChargerSink(ctx, lambda cp: asset, checkpoints)
    before_crash("CP-7", "StatusNotification", _status("Preparing", 0))
    assert _session_events(h) == ["EvPluggedIn"]

    charging = ch.ChargerStatusChanged(
        asset_id=asset["id"], connector_id=1, status="Charging", at=T0 + timedelta(minutes=1)
    )
    ctx.append(ch.charger_stream(asset["id"]), [charging], ANY)  # stored, then the process died

    after_restart = ChargerSink(ctx, lambda cp: asset, checkpoints)
    after_restart("CP-7", "StatusNotification", _status("SuspendedEV", 5))
    assert _session_events(h) == ["EvPluggedIn", "ChargingStarted", "ConnectionStateChanged"]

    again = ChargerSink(ctx, lambda cp: asset, checkpoints)  # a second restart records nothing twice
    again("CP-7", "StatusNotification", _status("SuspendedEV", 6))
    assert _session_events(h) == ["EvPluggedIn", "ChargingStarted", "ConnectionStateChanged"]

"""OCPP charger events -> charge-session events and per-slot energy (domain.charger_sessions), no I/O.

The expected energies are computed here by hand from the register values (differences spread
over time), independently of the module's slot bookkeeping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain import charger_sessions as cs
from domain import chargers as ch
from domain import ev

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
S0 = int(T0.timestamp())
ASSET = 7


def _status(status: str, minutes: float, connector: int = 1) -> ch.ChargerStatusChanged:
    return ch.ChargerStatusChanged(
        asset_id=ASSET, connector_id=connector, status=status, at=T0 + timedelta(minutes=minutes)
    )


def _register(wh: float, minutes: float, connector: int = 1) -> ch.EnergyRegisterRead:
    return ch.EnergyRegisterRead(
        asset_id=ASSET, connector_id=connector, register_wh=wh, at=T0 + timedelta(minutes=minutes)
    )


def _run(events, resolution_s: int = 900):
    """Fold ``events``; (session events, {slot start: latest total Wh}) they produced."""
    state, produced, slots = cs.ChargerState(), [], {}
    for index, event in enumerate(events):
        outcome = cs.step(state, event, session_id=uuid.UUID(int=index + 1), resolution_s=resolution_s)
        state = outcome.state
        produced += outcome.session_events
        slots.update({slot.start_s: slot.energy_wh for slot in outcome.energy_slots})
    return state, produced, slots


def test_statuses_and_transactions_map_to_session_events() -> None:
    start = ch.ChargingSessionStarted(
        asset_id=ASSET, transaction_id=42, connector_id=1, id_tag="EV-1", meter_start_wh=0, at=T0 + timedelta(minutes=1)
    )
    stop = ch.ChargingSessionStopped(asset_id=ASSET, transaction_id=42, meter_stop_wh=0, at=T0 + timedelta(minutes=50))
    events = [
        _status("Preparing", 0),
        start,
        _status("Charging", 2),
        _status("Charging", 3),
        _status("SuspendedEV", 20),
        _status("SuspendedEVSE", 21),
        _status("Charging", 30),
        _status("Finishing", 49),
        stop,
        _status("Available", 55),
        _status("Available", 56),
    ]
    state, produced, _ = _run(events)
    assert [type(e).__name__ for e in produced] == [
        "EvPluggedIn",
        "ChargingStarted",
        "ConnectionStateChanged",
        "ChargingStarted",
        "ChargingStopped",
        "EvPluggedOut",
    ]
    session = produced[0].session_id
    assert all(e.session_id == session for e in produced)
    assert produced[0].evse_asset_id == ASSET and produced[0].at == T0
    assert produced[2].state == "suspended" and produced[5].at == T0 + timedelta(minutes=55)
    assert state.connector(1).session_id is None and state.connector(1).transaction_id is None


def test_start_transaction_or_charging_open_a_session_without_preparing() -> None:
    start = ch.ChargingSessionStarted(
        asset_id=ASSET, transaction_id=9, connector_id=2, id_tag="EV-1", meter_start_wh=100, at=T0
    )
    _, produced, _ = _run([start])
    assert [type(e).__name__ for e in produced] == ["EvPluggedIn"] and produced[0].external_id == "ocpp-tx-9"
    _, produced, _ = _run([_status("Charging", 0)])
    assert [type(e).__name__ for e in produced] == ["EvPluggedIn", "ChargingStarted"]
    _, produced, _ = _run([_status("Available", 0), _status("Faulted", 1), _status("Preparing", 0, connector=0)])
    assert produced == []


def test_each_decided_event_passes_the_session_rules() -> None:
    events = [_status("Preparing", 5), _status("Charging", 4), _status("Finishing", 30), _status("Available", 31)]
    _, produced, _ = _run(events)  # "Charging" stamped before the plug-in: moved to it
    state = None
    for event in produced:
        assert ev.decide_session(state, event) == [event]
        state = ev.evolve_session(state, event)
    assert state.ended_at == T0 + timedelta(minutes=31)


def test_register_differences_become_slot_energies_robust_to_repeats_and_resets() -> None:
    registers = [(1000, 0), (1500, 5), (3000, 20), (3000, 20), (2500, 15), (4000, 30), (500, 40), (1500, 50)]
    _, _, slots = _run([_register(wh, minutes) for wh, minutes in registers])
    # by hand: 500 Wh over [0, 5), 1500 over [5, 20), 1000 over [20, 30), reset: 500 over [30, 40),
    # 1000 over [40, 50); the repeat and the older value add nothing
    expected = {
        S0: 500 + 1500 * 10 / 15,
        S0 + 900: 1500 * 5 / 15 + 1000,
        S0 + 1800: 500 + 1000 * 5 / 10,
        S0 + 2700: 1000 * 5 / 10,
    }
    assert slots.keys() == expected.keys()
    for start, wh in expected.items():
        assert slots[start] == pytest.approx(wh)
    assert sum(slots.values()) == pytest.approx(4500)


def test_impossible_register_values_are_ignored() -> None:
    _, _, slots = _run([_register(100, 0), _register(-5, 3), _register(float("nan"), 4), _register(160, 5)])
    assert slots == {S0: pytest.approx(60)}


def test_slot_totals_replace_rather_than_add() -> None:
    _, _, after_two = _run([_register(0, 0), _register(100, 5)])
    _, _, after_three = _run([_register(0, 0), _register(100, 5), _register(300, 10)])
    assert after_two == {S0: pytest.approx(100)} and after_three == {S0: pytest.approx(300)}


def test_register_on_an_instantaneous_sensor_or_a_long_silence() -> None:
    _, _, slots = _run([_register(0, 0), _register(100, 5)], resolution_s=0)
    assert slots == {}
    _, _, slots = _run([_register(0, 0), _register(700, 60 * 24 * 60)], resolution_s=60)
    assert slots == {S0 + 60 * 24 * 3600 - 60: pytest.approx(700)}  # all in the last slot


def test_split_interval_is_proportional_and_complete() -> None:
    parts = cs.split_interval(T0 + timedelta(minutes=10), T0 + timedelta(minutes=40), 300.0, 900)
    assert parts == [(S0, pytest.approx(50.0)), (S0 + 900, pytest.approx(150.0)), (S0 + 1800, pytest.approx(100.0))]
    assert cs.split_interval(T0, T0 + timedelta(minutes=15), 10.0, 900) == [(S0, pytest.approx(10.0))]

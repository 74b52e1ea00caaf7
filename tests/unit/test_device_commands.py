"""Device-command lifecycle: decide/evolve rules, retries with back-off, expiry, cancel (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from pydantic import ValidationError

from domain import device_commands as dc

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DEVICE = {"gateway": "simulated", "address": "sim-1"}


def _fold(events, state=None):
    return reduce(dc.evolve, events, state)


def _request(**overrides) -> dc.CommandState:
    request = dc.DeviceCommandRequest(asset_id=3, action="set_power", parameters={"power_kw": 7.4}, **overrides)
    return _fold(dc.decide_request(request, uuid.uuid4(), 1, DEVICE, NOW))


def test_command_now_is_requested_and_due_at_once():
    state = _request()
    assert state.status == dc.REQUESTED
    assert dc.next_step(state, NOW) == "dispatch"
    assert state.requested.expires_at == NOW + timedelta(hours=1)


def test_command_for_later_is_scheduled_and_waits():
    state = _request(execute_at=NOW + timedelta(minutes=10))
    assert state.status == dc.SCHEDULED
    assert dc.next_step(state, NOW + timedelta(minutes=9)) == "wait"
    assert dc.next_step(state, NOW + timedelta(minutes=10)) == "dispatch"


def test_dispatch_then_ack():
    state = _request()
    state = _fold(dc.decide_due(state, NOW, "simulated"), state)
    assert (state.status, state.attempts) == (dc.DISPATCHED, 1)
    assert state.due_at == NOW + timedelta(seconds=dc.DEFAULT_ACK_TIMEOUT_S)
    state = _fold(dc.decide_reply(state, True, {"status": "Accepted"}, None, 1, NOW), state)
    assert state.status == dc.ACKNOWLEDGED and state.response == {"status": "Accepted"}
    assert dc.decide_reply(state, True, {}, None, 1, NOW) == []  # a duplicate reply changes nothing


def test_reject():
    state = _request()
    state = _fold(dc.decide_due(state, NOW, "simulated"), state)
    state = _fold(dc.decide_reply(state, False, {"status": "Rejected"}, "busy", 1, NOW), state)
    assert (state.status, state.status_reason) == (dc.REJECTED, "busy")


def test_silence_retries_with_exponential_backoff_then_expires():
    state = _request(ack_timeout_s=10, max_attempts=3, retry_backoff_s=2)
    now, retry_gaps = NOW, []
    for attempt in (1, 2, 3):
        state = _fold(dc.decide_due(state, now, "simulated"), state)
        assert (state.status, state.attempts) == (dc.DISPATCHED, attempt)
        now += timedelta(seconds=10)  # no reply within the ack timeout
        events = dc.decide_due(state, now, "simulated")
        state = _fold(events, state)
        if attempt < 3:
            assert state.status == dc.SCHEDULED
            retry_gaps.append((state.due_at - now).total_seconds())
            now = state.due_at
    assert retry_gaps == [2, 4]
    assert state.status == dc.EXPIRED and "3 attempt" in state.status_reason


def test_expires_at_passes_before_dispatch():
    state = _request(execute_at=NOW + timedelta(minutes=5), expires_at=NOW + timedelta(minutes=6))
    late = NOW + timedelta(minutes=7)
    assert dc.next_step(state, late) == "expire"
    assert _fold(dc.decide_due(state, late, "simulated"), state).status == dc.EXPIRED


def test_unreachable_device_is_retried():
    state = _request(max_attempts=2, retry_backoff_s=1)
    state = _fold(dc.decide_due(state, NOW, "ocpp"), state)
    state = _fold(dc.decide_unreachable(state, "not connected", NOW), state)
    assert state.status == dc.SCHEDULED and state.due_at == NOW + timedelta(seconds=1)
    state = _fold(dc.decide_due(state, state.due_at, "ocpp"), state)
    state = _fold(dc.decide_unreachable(state, "not connected", NOW), state)
    assert state.status == dc.EXPIRED


def test_cancel_only_before_dispatch():
    scheduled = _request(execute_at=NOW + timedelta(minutes=10))
    cancelled = _fold(dc.decide_cancel(scheduled, "not needed", NOW), scheduled)
    assert cancelled.status == dc.CANCELLED
    assert dc.decide_cancel(cancelled, None, NOW) == []  # idempotent
    assert dc.next_step(cancelled, NOW + timedelta(hours=1)) == "wait"
    dispatched = _fold(dc.decide_due(_request(), NOW, "simulated"), _request())
    with pytest.raises(dc.CommandRuleError) as err:
        dc.decide_cancel(dispatched, None, NOW)
    assert err.value.code == "COMMAND_NOT_CANCELLABLE"


def test_late_reply_after_expiry_is_ignored():
    state = _request(max_attempts=1, ack_timeout_s=1)
    state = _fold(dc.decide_due(state, NOW, "simulated"), state)
    state = _fold(dc.decide_due(state, NOW + timedelta(seconds=1), "simulated"), state)
    assert state.status == dc.EXPIRED
    assert dc.decide_reply(state, True, {}, None, 1, NOW + timedelta(seconds=2)) == []


@pytest.mark.parametrize(
    ("action", "parameters", "field"),
    [
        ("fly", {}, "action"),
        ("set_power", {"power_kw": "lots"}, "parameters.power_kw"),
        ("set_charging_profile", {"limits_kw": []}, "parameters.limits_kw"),
        ("set_charging_profile", {"limits_kw": [1], "slot_duration_s": 0}, "parameters.slot_duration_s"),
        ("set_value", {}, "parameters.value"),
    ],
)
def test_invalid_requests_name_the_field(action, parameters, field):
    request = dc.DeviceCommandRequest(asset_id=1, action=action, parameters=parameters)
    with pytest.raises(dc.CommandRuleError) as err:
        dc.decide_request(request, uuid.uuid4(), 1, DEVICE, NOW)
    assert err.value.field == field


def test_naive_times_are_refused():
    with pytest.raises(ValidationError, match="timezone-aware"):
        dc.DeviceCommandRequest(asset_id=1, action="set_power", execute_at=datetime(2026, 1, 1))


def test_expiry_before_execution_is_refused():
    request = dc.DeviceCommandRequest(
        asset_id=1, action="stop_charging", execute_at=NOW + timedelta(hours=2), expires_at=NOW + timedelta(hours=1)
    )
    with pytest.raises(dc.CommandRuleError, match="expires_at"):
        dc.decide_request(request, uuid.uuid4(), 1, DEVICE, NOW)


def test_idempotency_key_maps_to_one_command_per_account_and_device():
    assert dc.command_id_for_key(1, 2, "k") == dc.command_id_for_key(1, 2, "k")
    assert dc.command_id_for_key(1, 2, "k") != dc.command_id_for_key(9, 2, "k")


def test_device_address_from_attributes():
    assert dc.device_address(5, {"ocpp": {"charge_point_id": "CP-1"}}) == {
        "gateway": "ocpp", "address": "CP-1", "connector_id": 1}
    assert dc.device_address(5, {"mqtt": {"device_id": "hp"}}) == {"gateway": "mqtt", "address": "hp"}
    assert dc.device_address(5, {"simulated": True}) == {"gateway": "simulated", "address": "asset-5"}
    assert dc.device_address(5, {}) is None

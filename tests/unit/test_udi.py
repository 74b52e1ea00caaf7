"""UDI events and schedule events: addresses, units, ordering rules, derived ids, mapping (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from commands.scheduling import TriggerSchedule
from domain.devices import stored_device_flex_model, udi_flex_model
from domain.grid import next_on_grid as udi_schedule_start
from domain.grid import on_grid as aligned
from domain.jobs import JobRequested
from domain.registry import AssetRegistered, SensorRegistered
from domain.schedules import (
    ScheduleComputed,
    UnmetConstraint,
    beliefs_event_id,
    job_outcome_event_id,
    job_requested_event_id,
    outcome_event_id,
    schedule_id_for,
    scheduling_result,
)
from domain.scheduling import problem_from_flex, solve
from domain.udi import (
    EventAddress,
    SocTarget,
    UdiError,
    UdiEventPosted,
    decide_udi_event,
    parse_event_address,
    soc_in_kwh,
    udi_stream,
)
from streams.schedule_inputs import ScheduleRequest, price_sensor_ids
from streams.schedule_outcome import computed_event

T0 = datetime(2015, 6, 2, 10, tzinfo=UTC)


def udi_event(event_id: int = 203, at: datetime = T0, targets: list[SocTarget] | None = None) -> UdiEventPosted:
    return UdiEventPosted(
        address=f"ea1.2018-06.io.flexmeasures.company:7:10:{event_id}:soc-with-targets", owner_id=7, asset_id=10,
        sensor_id=3, udi_event_id=event_id, udi_type="soc-with-targets", datetime=at, soc_kwh=12.1, value=12.1,
        unit="kWh", targets=targets or [], horizon_s=48 * 3600,
    )  # fmt: skip


# -- addresses --------------------------------------------------------------------------------
def test_parse_the_documented_addresses() -> None:
    address = parse_event_address("ea1.2018-06.io.flexmeasures.company:7:10:203:soc")
    assert address == EventAddress("2018-06", "io.flexmeasures.company", 7, 10, 203, "soc")
    assert str(address) == "ea1.2018-06.io.flexmeasures.company:7:10:203:soc"
    targets = parse_event_address(" ea1.2018-06.io.flexmeasures.company:7:10:204:soc-with-targets ")
    assert (targets.event_id, targets.event_type) == (204, "soc-with-targets")
    assert parse_event_address("ea1.2021-01.io.flexmeasures:fm0.7:10:5:soc").owner_id == 7


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        42,
        "ea1.2018-06.io.flexmeasures.company:7:10:203",
        "ea2.2018-06.io.flexmeasures.company:7:10:203:soc",
        "ea1.18-06.io.flexmeasures.company:7:10:203:soc",
        "ea1.2018-06.io.flexmeasures.company:7:ten:203:soc",
        "ea1.2018-06.io.flexmeasures.company:7:10:-3:soc",
        "ea1.2018-06.io.flexmeasures.company:10:203:soc",
    ],
)
def test_malformed_addresses_are_invalid_domain(text) -> None:
    with pytest.raises(UdiError) as raised:
        parse_event_address(text)
    assert (raised.value.code, raised.value.field) == ("INVALID_DOMAIN", "event")


def test_unknown_event_types_are_unrecognized() -> None:
    with pytest.raises(UdiError) as raised:
        parse_event_address("ea1.2018-06.io.flexmeasures.company:7:10:203:temperature")
    assert raised.value.code == "UNRECOGNIZED_UDI_EVENT"
    assert "temperature" in str(raised.value)


def test_one_stream_per_device() -> None:
    assert udi_stream(10) == "udi-10"


# -- units ------------------------------------------------------------------------------------
def test_state_of_charge_units() -> None:
    assert soc_in_kwh(12.1, "kWh", None) == pytest.approx(12.1)
    assert soc_in_kwh(0.5, "MWh", None) == pytest.approx(500.0)
    assert soc_in_kwh(40, "%", 60.0) == pytest.approx(24.0)


@pytest.mark.parametrize(("unit", "capacity"), [("%", None), ("%", 0.0), ("kW", 60.0), ("Wh", None), ("", None)])
def test_other_units_are_invalid(unit: str, capacity) -> None:
    with pytest.raises(UdiError) as raised:
        soc_in_kwh(1.0, unit, capacity, field="unit")
    assert (raised.value.code, raised.value.field) == ("INVALID_UNIT", "unit")


# -- ordering ---------------------------------------------------------------------------------
def test_event_ids_increase_per_device() -> None:
    first = udi_event(203)
    assert decide_udi_event(None, first) is first
    assert decide_udi_event(first, udi_event(204)).udi_event_id == 204
    for outdated in (203, 202):
        with pytest.raises(UdiError) as raised:
            decide_udi_event(first, udi_event(outdated))
        assert (raised.value.code, raised.value.field) == ("OUTDATED_UDI_EVENT", "event")


def test_state_of_charge_time_does_not_go_back() -> None:
    with pytest.raises(UdiError) as raised:
        decide_udi_event(udi_event(203), udi_event(204, at=T0 - timedelta(minutes=1)))
    assert (raised.value.code, raised.value.field) == ("INVALID_DATETIME", "datetime")


def test_targets_lie_after_the_event() -> None:
    event = udi_event(
        203, targets=[SocTarget(value_kwh=25, datetime=T0 + timedelta(hours=6)), SocTarget(value_kwh=5, datetime=T0)]
    )
    with pytest.raises(UdiError) as raised:
        decide_udi_event(None, event)
    assert (raised.value.code, raised.value.field) == ("INVALID_DATETIME", "targets[1].datetime")


def test_events_need_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        udi_event(at=datetime(2015, 6, 2, 10))


# -- derived ids ------------------------------------------------------------------------------
def test_everything_a_schedule_appends_derives_from_its_trigger() -> None:
    trigger = uuid.uuid4()
    schedule_id = schedule_id_for(trigger)
    assert schedule_id == schedule_id_for(trigger)
    assert schedule_id != schedule_id_for(uuid.uuid4())
    derived = [
        outcome_event_id(schedule_id), job_requested_event_id(schedule_id), job_outcome_event_id(schedule_id),
        beliefs_event_id(schedule_id, 1), beliefs_event_id(schedule_id, 2),
    ]  # fmt: skip
    assert len(set(derived)) == len(derived)
    assert derived == [
        outcome_event_id(schedule_id), job_requested_event_id(schedule_id), job_outcome_event_id(schedule_id),
        beliefs_event_id(schedule_id, 1), beliefs_event_id(schedule_id, 2),
    ]  # fmt: skip


def test_identical_trigger_requests_hash_alike() -> None:
    request = TriggerSchedule(
        asset_id=1, start=T0, duration=timedelta(hours=6), resolution=timedelta(minutes=15),
        flex_model=[{"sensor": 3, "soc-at-start": "10 kWh"}], flex_context={"consumption-price": "50 EUR/MWh"},
    )  # fmt: skip
    forced = request.model_copy(update={"force_new_job_creation": True})
    other = request.model_copy(update={"flex_model": [{"sensor": 3, "soc-at-start": "11 kWh"}]})
    assert request.request_hash() == forced.request_hash()
    assert request.request_hash() != other.request_hash()


# -- grids ------------------------------------------------------------------------------------
def test_udi_schedules_start_at_the_next_step_on_the_sensors_grid() -> None:
    quarter = timedelta(minutes=15)
    assert udi_schedule_start(T0, quarter, "Europe/Amsterdam") == T0
    assert udi_schedule_start(T0 + timedelta(minutes=7), quarter, "Europe/Amsterdam") == T0 + quarter
    # hourly steps in India (UTC+05:30): 10:07Z is 15:37 local, the next step 16:00 local = 10:30Z
    assert udi_schedule_start(T0 + timedelta(minutes=7), timedelta(hours=1), "Asia/Kolkata") == T0 + timedelta(
        minutes=30
    )


def test_alignment_follows_local_midnight() -> None:
    assert aligned(T0, timedelta(minutes=15), "Europe/Amsterdam")
    assert not aligned(T0 + timedelta(minutes=7), timedelta(minutes=15), "UTC")
    assert not aligned(T0, timedelta(hours=1), "Asia/Kolkata")
    assert aligned(T0 + timedelta(minutes=30), timedelta(hours=1), "Asia/Kolkata")


# -- flex-model of a UDI event ------------------------------------------------------------------
def _asset(**fields) -> AssetRegistered:
    return AssetRegistered(asset_id=10, account_id=7, name="battery", asset_type="battery", **fields)


def test_udi_event_completes_the_stored_flex_model_in_explicit_units() -> None:
    asset = _asset(flex_model={"soc-max": 0.1, "soc-unit": "MWh", "power-capacity": "20 kW"})
    event = udi_event(targets=[SocTarget(value_kwh=25, datetime=T0 + timedelta(hours=6))])
    event = event.model_copy(update={"soc_min_kwh": 5.0, "roundtrip_efficiency": 0.9})
    model = udi_flex_model(asset, event)
    assert model == {
        "soc-max": 0.1, "soc-unit": "MWh", "power-capacity": "20 kW", "sensor": 3, "soc-at-start": "12.1 kWh",
        "soc-targets": [{"datetime": "2015-06-02T16:00:00+00:00", "value": "25.0 kWh"}], "soc-min": "5.0 kWh",
        "roundtrip-efficiency": 0.9,
    }  # fmt: skip


def test_stored_flex_models_per_device() -> None:
    listed = _asset(flex_model=[{"sensor": 2, "soc-max": "1 kWh"}, {"sensor": 3, "soc-max": "9 kWh"}])
    assert stored_device_flex_model(listed, 3)["soc-max"] == "9 kWh"
    legacy = _asset(attributes={"capacity_in_mw": 0.011})
    assert stored_device_flex_model(legacy, 3) == {"power-capacity": "0.011 MW"}
    assert price_sensor_ids({"consumption-price": {"sensor": 4}, "production-price-sensor": 5, "x": {"sensor": 6}}) == {
        4,
        5,
    }


# -- solver result -> event ---------------------------------------------------------------------
def test_a_solved_problem_becomes_a_schedule_computed_event_with_the_shortfall() -> None:
    schedule_id = uuid.uuid4()
    sensor = SensorRegistered(sensor_id=3, asset_id=10, name="power", unit="kW", event_resolution_s=900)
    flex_model = [
        {"sensor": 3, "soc-at-start": "10 kWh", "soc-max": "100 kWh", "power-capacity": "20 kW",
         "soc-targets": [{"datetime": (T0 + timedelta(hours=1)).isoformat(), "value": "100 kWh"}]},
    ]  # fmt: skip
    request = ScheduleRequest(
        schedule_id=schedule_id, trigger="udi", asset_id=10, udi_event_id=203, sensors={3: sensor},
        flex_model=flex_model, flex_context={"consumption-price": "50 EUR/MWh"}, start=T0, end=T0 + timedelta(hours=2),
        resolution=timedelta(minutes=15), belief_time=T0, job=JobRequested(job_id=schedule_id, kind="schedule"),
        notes=["a note"],
    )  # fmt: skip
    problem = problem_from_flex(
        flex_model, request.flex_context, start=T0, end=request.end, resolution=request.resolution
    )
    event = computed_event(request, solve(problem))
    assert isinstance(event, ScheduleComputed)
    assert (event.schedule_id, event.trigger, event.udi_event_id, event.n_steps) == (schedule_id, "udi", 203, 8)
    (device,) = event.devices
    assert device.sensor_id == 3
    assert device.power_kw[:4] == [20.0] * 4  # as close to the target as possible, not all-zero
    assert len(device.soc_kwh) == 9
    assert device.soc_kwh[4] == pytest.approx(30.0)
    (unmet,) = event.unmet
    assert (unmet.sensor_id, unmet.constraint, unmet.unit) == (3, "soc-target", "kWh")
    assert unmet.amount == pytest.approx(70.0)
    assert unmet.datetime == T0 + timedelta(hours=1)
    assert event.notes == ["a note"]
    result = scheduling_result(event)
    assert result["resolved"] == []
    assert result["unresolved"][0]["violation"] == "70 kWh"


def test_scheduling_result_shape() -> None:
    breach = UnmetConstraint(constraint="site-consumption-capacity", datetime=T0, amount=1.5, unit="kWh")
    event = ScheduleComputed(
        schedule_id=uuid.uuid4(), trigger="api", asset_id=1, start=T0, resolution_s=900, devices=[], unmet=[breach]
    )
    (entry,) = scheduling_result(event)["unresolved"]
    assert entry == {
        "sensor": None, "constraint": "site-consumption-capacity", "datetime": T0.isoformat(), "violation": "1.5 kWh",
        "amount": 1.5, "unit": "kWh", "message": "",
    }  # fmt: skip

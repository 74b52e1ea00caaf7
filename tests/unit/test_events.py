"""The event envelope, the event-type registry, upcasting and decoding (domain/events.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.beliefs import SensorDataRecorded
from domain.events import (
    DomainEvent,
    EventMetadata,
    NewEvent,
    RecordedEvent,
    decode,
    known_event_types,
    register_event,
    register_upcaster,
    upcast,
)


@register_event
class UnitTestWidgetMoved(DomainEvent):
    """Test event at version 3: v1 had ``pos``, v2 renamed it ``position``, v3 added ``unit``."""

    schema_version = 3
    position: float
    unit: str
    at: datetime | None = None


@register_upcaster("UnitTestWidgetMoved", 1)
def _v1(data: dict) -> dict:
    rest = {k: v for k, v in data.items() if k != "pos"}
    return {**rest, "position": data["pos"]}


@register_upcaster("UnitTestWidgetMoved", 2)
def _v2(data: dict) -> dict:
    return {**data, "unit": "m"}


def recorded(event_type: str, schema_version: int, data: dict, stream_id: str = "widget-7") -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(), stream_id=stream_id, stream_revision=0, global_position=1, type=event_type,
        schema_version=schema_version, data=data, metadata=EventMetadata(),
    )


def test_event_type_defaults_to_the_class_name_and_is_known():
    assert UnitTestWidgetMoved.event_type == "UnitTestWidgetMoved"
    assert "UnitTestWidgetMoved" in known_event_types()
    assert known_event_types() == sorted(known_event_types())
    assert register_event(UnitTestWidgetMoved) is UnitTestWidgetMoved, "registering the same class again is fine"


def test_two_classes_cannot_share_an_event_type():
    class UnitTestWidgetMoved(DomainEvent):  # noqa: F811 - the clash is the point
        position: float

    with pytest.raises(ValueError, match="registered twice"):
        register_event(UnitTestWidgetMoved)


def test_domain_events_are_frozen_and_strict():
    event = UnitTestWidgetMoved(position=1.0, unit="m")
    with pytest.raises(ValidationError):
        event.position = 2.0
    with pytest.raises(ValidationError):
        UnitTestWidgetMoved(position=1.0, unit="m", colour="red")


def test_new_event_wraps_a_domain_event():
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    meta = EventMetadata(actor="user:1", correlation_id="c1")
    event_id = uuid.uuid4()
    new = NewEvent.of(UnitTestWidgetMoved(position=1.5, unit="m", at=at), meta, event_id)
    assert (new.event_id, new.type, new.schema_version, new.metadata) == (event_id, "UnitTestWidgetMoved", 3, meta)
    assert new.data == {"position": 1.5, "unit": "m", "at": "2024-05-01T12:00:00Z"}, "data is JSON-ready"
    other = NewEvent.of(UnitTestWidgetMoved(position=1.5, unit="m"))
    assert other.event_id != NewEvent.of(UnitTestWidgetMoved(position=1.5, unit="m")).event_id
    assert isinstance(other.event_id, uuid.UUID)


def test_metadata_defaults_and_json():
    before = datetime.now(UTC)
    meta = EventMetadata(source="api")
    assert meta.recorded_at.tzinfo is not None and before <= meta.recorded_at <= before + timedelta(minutes=1)
    assert set(meta.to_json()) == {"source", "recorded_at"}, "None fields are left out"
    assert EventMetadata.model_validate(meta.to_json()) == meta


def test_upcast_applies_each_registered_step_in_order():
    assert upcast("UnitTestWidgetMoved", 1, {"pos": 2.0}) == (3, {"position": 2.0, "unit": "m"})
    assert upcast("UnitTestWidgetMoved", 2, {"position": 2.0}) == (3, {"position": 2.0, "unit": "m"})
    assert upcast("UnitTestWidgetMoved", 3, {"position": 2.0, "unit": "cm"}) == (3, {"position": 2.0, "unit": "cm"})
    assert upcast("NoUpcastersHere", 1, {"a": 1}) == (1, {"a": 1})


def test_upcasting_does_not_touch_the_stored_data():
    stored = recorded("UnitTestWidgetMoved", 1, {"pos": 4.0})
    assert stored.decode() == UnitTestWidgetMoved(position=4.0, unit="m")
    assert (stored.schema_version, stored.data) == (1, {"pos": 4.0})


def test_decode():
    assert decode("UnitTestWidgetMoved", 3, {"position": 1.0, "unit": "m"}) == UnitTestWidgetMoved(
        position=1.0, unit="m"
    )
    with pytest.raises(KeyError, match="unknown event type 'NeverRegistered'"):
        decode("NeverRegistered", 1, {})
    with pytest.raises(ValidationError):
        decode("UnitTestWidgetMoved", 3, {"position": "far"})


def test_sensor_data_v1_is_upcast_with_a_user_source_type():
    v1 = {
        "sensor_id": 1, "start": "2024-05-01T00:00:00Z", "resolution_s": 900, "values": [1.0], "unit": "kW",
        "source": "meter", "received_at": "2024-05-01T01:00:00Z",
    }
    event = decode("SensorDataRecorded", 1, v1)
    assert isinstance(event, SensorDataRecorded) and event.source_type == "user"
    assert SensorDataRecorded.schema_version == 2


def test_category_is_the_stream_id_before_the_first_dash():
    assert recorded("X", 1, {}, stream_id="sensordata-12").category == "sensordata"
    assert recorded("X", 1, {}, stream_id="sequence-asset-3").category == "sequence"
    assert recorded("X", 1, {}, stream_id="standalone").category == "standalone"

"""The credential redaction rule and the stream-ownership rule's pure parts."""

from __future__ import annotations

from domain.disclosure import PLATFORM, StreamOwner, entity_of_data, entity_of_stream, may_see, redact_credentials


def test_credential_like_keys_are_dropped_at_any_depth() -> None:
    data = {
        "email": "a@b.test",
        "password_hash": "$2b$...",
        "nested": {"API-Key": "k", "items": [{"access_token": "t", "value": 1}], "webhookSecret": "s"},
        "privateKey": "pk",
        "private_key": "pk",
        "credentials": ["x"],
    }
    assert redact_credentials(data) == {"email": "a@b.test", "nested": {"items": [{"value": 1}]}}


def test_streams_name_their_entity_or_leave_it_to_the_data() -> None:
    assert entity_of_stream("asset-3") == ("asset", 3)
    assert entity_of_stream("udi-3") == ("asset", 3)
    assert entity_of_stream("sensordata-12") == ("sensor", 12)
    assert entity_of_stream("forecast-12") == ("sensor", 12)
    assert entity_of_stream("user-4") == ("user", 4)
    assert entity_of_stream("schedule-5a0f3f1e-6c2b-4b8e-9f55-2f1d1c1e5c42") is None
    assert entity_of_stream("sequence-user") is None
    assert entity_of_data({"job_id": "x", "asset_id": None, "sensor_id": 5}) == ("sensor", 5)
    assert entity_of_data({"asset_id": 2, "sensor_id": 5}) == ("asset", 2)
    assert entity_of_data({"kind": "user", "id": 3}) is None


def test_visibility() -> None:
    assert may_see(StreamOwner(1), 1, False)
    assert not may_see(StreamOwner(2), 1, False)
    assert not may_see(PLATFORM, 1, False)
    assert may_see(PLATFORM, 1, True)

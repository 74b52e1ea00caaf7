"""The pure parts of the validation and authorisation layers: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.authorization import sensor_references
from api.timefmt import parse_duration
from api.validation import MAX_ID, check_duration, id_from_text, moment_in_range, non_finite_path
from domain.udi import UdiError, parse_event_address
from domain.units import UnitError, parse_unit


@pytest.mark.parametrize(
    "body, path",
    [
        (b'{"values": [1, NaN, 3]}', "values.1"),
        (b'{"values": [1, 2, Infinity]}', "values.2"),
        (b'{"a": {"b": [{"c": -Infinity}]}}', "a.b.0.c"),
        (b'{"values": [1e309]}', "values.0"),
        (b'{"attributes": {"a": 100000000000000000000}}', "attributes.a"),
        (b'{"id": 9223372036854775807, "n": -9223372036854775808}', None),
        (b'{"id": 9223372036854775808}', "id"),
        (b'{"name": "a\\u0000b"}', "name"),
        (b'{"a": {"k\\u0000": 1}}', "a"),
        (b"NaN", "body"),
        (b'{"name": "NaN and Infinity in text", "values": [1e300, 2E+10]}', None),
        (b'{"values": [1, 2', None),  # not JSON: the route's parser reports it
    ],
)
def test_non_finite_numbers_are_found_with_their_path(body: bytes, path: str | None) -> None:
    assert non_finite_path(body) == path


@pytest.mark.parametrize(
    "value, expected",
    [(1, 1), ("42", 42), (" 7 ", 7), (MAX_ID, MAX_ID), (MAX_ID + 1, None), (0, None), (-3, None), ("²", None),
     ("1" * 30, None), (True, None), (1.0, None), ("abc", None)],
)  # fmt: skip
def test_ids_from_text(value, expected) -> None:
    assert id_from_text(value) == expected


def test_moments_and_durations_stay_in_the_calendar() -> None:
    assert moment_in_range(datetime(2024, 1, 1, tzinfo=UTC))
    for year in (1, 1899, 2200, 9999):
        with pytest.raises(ValueError):
            moment_in_range(datetime(year, 1, 1, tzinfo=UTC))
    assert check_duration(timedelta(days=-36_525))
    with pytest.raises(ValueError):
        check_duration(timedelta(days=36_526))
    for text in ("P1000000D", "P99999999999999D", "-P40000D", "P" + "1" * 100 + "D"):
        with pytest.raises(ValueError):
            parse_duration(text)


@pytest.mark.parametrize("unit", ["(", "kW(", "?", "1/0", "kW/0", "kW**kW", "\x00", "kW)", "W" * 100])
def test_unparsable_units_are_unit_errors(unit: str) -> None:
    with pytest.raises(UnitError):
        parse_unit(unit)


def test_udi_addresses_refuse_ids_beyond_bigint() -> None:
    with pytest.raises(UdiError):
        parse_event_address(f"ea1.2018-06.io.x:1:{2**63}:1:soc")
    with pytest.raises(UdiError):
        parse_event_address(f"ea1.2018-06.io.x:1:1:{'9' * 40}:soc")
    assert parse_event_address(f"ea1.2018-06.io.x:1:{MAX_ID}:1:soc").asset_id == MAX_ID


def test_every_sensor_reference_of_a_flex_model_and_context_is_found() -> None:
    context = {
        "consumption-price": {"sensor": 1},
        "production-price-sensor": "2",
        "inflexible-device-sensors": [3, "4", "x"],
        "site-power-capacity": {"sensor": 5},
        "site-consumption-capacity": "25 kW",
    }
    model = [{"sensor": 6, "state-of-charge": {"sensor": 7}, "soc-minima": [{"datetime": "x", "value": 1}]}]
    found = list(sensor_references(context, "flex-context")) + list(sensor_references(model, "flex-model"))
    assert found == [
        (1, "flex-context.consumption-price"),
        (2, "flex-context.production-price-sensor"),
        (3, "flex-context.inflexible-device-sensors[0]"),
        (4, "flex-context.inflexible-device-sensors[1]"),
        (5, "flex-context.site-power-capacity"),
        (6, "flex-model[0].sensor"),
        (7, "flex-model[0].state-of-charge"),
    ]
    assert list(sensor_references({"sensor": 2**64}, "f")) == [(0, "f")]  # out of range: refused as unknown

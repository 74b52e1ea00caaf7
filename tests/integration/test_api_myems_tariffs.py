"""MyEMS tariffs under /myems (issue 14): the seed's time-of-use and block bodies, MyEMS' tariff
fields, update/export/import/clone/delete, isolation and auditors; and a tariff as a price source:
a flex-context naming {"tariff": id} schedules exactly as the same prices posted as a sensor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from myems_support import (
    NIGHT_AND_DAY,
    login,
    myems_scheduling_harness,  # noqa: F401 - the harness fixture
)
from scheduling_support import BOB, SchedulingHarness


def _tou(start: str, end: str, peak_type: str, price: float) -> dict:
    return {"start_time_of_day": start, "end_time_of_day": end, "peak_type": peak_type, "price": price}


SEED_TOU = {
    "name": "2020分时电价1-6",
    "energy_category_id": 1,
    "tariff_type": "timeofuse",
    "unit_of_price": "元/千瓦时",
    "valid_from": "2020-01-01T00:00:00",
    "valid_through": "2020-07-01T00:00:00",
    "timeofuse": [
        _tou("00:00:00", "05:59:59", "offpeak", 0.345),
        _tou("06:00:00", "07:59:59", "midpeak", 0.708),
        _tou("08:00:00", "10:59:59", "onpeak", 1.159),
        _tou("11:00:00", "17:59:59", "midpeak", 0.708),
        _tou("18:00:00", "20:59:59", "onpeak", 1.159),
        _tou("21:00:00", "21:59:59", "midpeak", 0.708),
        _tou("22:00:00", "23:59:59", "offpeak", 0.345),
    ],
}
SEED_BLOCK = {
    "name": "阶梯电价",
    "energy_category_id": 1,
    "tariff_type": "block",
    "unit_of_price": "元/千瓦时",
    "valid_from": "2020-01-01T00:00:00",
    "valid_through": "2021-01-01T00:00:00",
    "block": [
        {"start_amount": "0", "end_amount": "10000", "price": "0.567"},
        {"start_amount": "10000", "end_amount": "30000", "price": "0.678"},
        {"start_amount": "30000", "end_amount": "100000", "price": "0.789"},
    ],
}
TARIFF_TYPES = {
    "id": int,
    "name": str,
    "uuid": str,
    "energy_category": dict,
    "tariff_type": str,
    "unit_of_price": str,
    "valid_from": float,
    "valid_through": float,
}


def _create(h: SchedulingHarness, headers: dict, body: dict) -> int:
    response = h.client.post("/myems/tariffs", json={"data": body}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_seed_tariffs_field_by_field(harness):
    headers = login(harness)
    tou_id, block_id = _create(harness, headers, SEED_TOU), _create(harness, headers, SEED_BLOCK)
    tou = harness.client.get(f"/myems/tariffs/{tou_id}", headers=headers).json()
    assert {k: type(v) for k, v in tou.items() if k != "timeofuse"} == TARIFF_TYPES
    assert tou["energy_category"] == {"id": 1, "name": "Electricity"}
    assert tou["valid_from"] == datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000
    assert tou["timeofuse"] == SEED_TOU["timeofuse"]
    block = harness.client.get(f"/myems/tariffs/{block_id}/export", headers=headers).json()
    assert block["tariff_type"] == "block" and "timeofuse" not in block
    assert block["block"] == [{k: float(v) for k, v in b.items()} for b in SEED_BLOCK["block"]]
    listed = harness.client.get("/myems/tariffs", headers=headers).json()
    assert {tou_id, block_id} <= {t["id"] for t in listed}
    updated = {
        **SEED_BLOCK,
        "block": [
            {**SEED_BLOCK["block"][0], "end_amount": "20000"},
            {**SEED_BLOCK["block"][1], "start_amount": "20000"},
        ],
    }
    put = harness.client.put(f"/myems/tariffs/{block_id}", json={"data": updated}, headers=headers)
    assert put.status_code == 200
    assert harness.client.get(f"/myems/tariffs/{block_id}", headers=headers).json()["block"][0]["end_amount"] == 20000
    clone = harness.client.post(f"/myems/tariffs/{tou_id}/clone", headers=headers)
    assert clone.status_code == 201
    cloned = harness.client.get(clone.headers["Location"], headers=headers).json()
    assert cloned["name"] == SEED_TOU["name"] + " (Copy)"
    imported = harness.client.post(
        f"/myems/tariffs/{tou_id}/import", headers=headers, json={"data": {**SEED_TOU, "name": "imported"}}
    )
    assert imported.status_code == 201
    same = harness.client.post("/myems/tariffs", json={"data": SEED_TOU}, headers=headers)
    assert same.status_code == 400 and same.json()["description"] == "API.TARIFF_NAME_IS_ALREADY_IN_USE"
    assert harness.client.delete(f"/myems/tariffs/{block_id}", headers=headers).status_code == 204
    gone = harness.client.get(f"/myems/tariffs/{block_id}", headers=headers)
    assert gone.status_code == 404 and gone.json()["description"] == "API.TARIFF_NOT_FOUND"


def test_bad_tariffs_and_isolation(harness):
    headers = login(harness)
    gap = {**SEED_TOU, "name": "gap", "timeofuse": SEED_TOU["timeofuse"][:-1]}
    for body, description in (
        ({**SEED_TOU, "tariff_type": "flat"}, "API.INVALID_TARIFF_TYPE"),
        (gap, "API.INVALID_TARIFF_TIME_OF_USE_PRICING"),
        ({**SEED_BLOCK, "name": "b", "block": []}, "API.INVALID_TARIFF_BLOCK_PRICING"),
        ({**SEED_TOU, "name": "v", "valid_through": "2019-01-01T00:00:00"}, "API.INVALID_VALID_THROUGH"),
        ({**SEED_TOU, "name": "c", "energy_category_id": 2}, "API.ENERGY_CATEGORY_NOT_FOUND"),
    ):
        response = harness.client.post("/myems/tariffs", json={"data": body}, headers=headers)
        assert response.status_code in (400, 404) and response.json()["description"] == description, response.text
    tariff_id = _create(harness, headers, {**SEED_TOU, "name": "private"})
    bob = login(harness, BOB)
    assert tariff_id not in [t["id"] for t in harness.client.get("/myems/tariffs", headers=bob).json()]
    assert harness.client.get(f"/myems/tariffs/{tariff_id}", headers=bob).status_code == 403
    assert harness.client.delete(f"/myems/tariffs/{tariff_id}", headers=bob).status_code == 403


def _trigger(
    h: SchedulingHarness, flex_context: dict | None = None, prior: datetime | None = None
) -> dict[str, list[float]]:
    """Battery and EVSE from 18:00 UTC for 12 h (4 h at 80, 8 h at 30): their schedules, kW per 15 min."""
    start = datetime(2015, 6, 2, 18, tzinfo=UTC)
    body = {
        "start": start.isoformat(),
        "duration": "PT12H",
        "flex-model": [
            {"sensor": h.world.sensors["battery/power"], "soc-at-start": "50 kWh"},
            {
                "sensor": h.world.sensors["evse/power"],
                "soc-at-start": "10 kWh",
                "soc-targets": [{"datetime": (start + timedelta(hours=10)).isoformat(), "value": "50 kWh"}],
            },
        ],
        **({"flex-context": flex_context} if flex_context else {}),
        **({"prior": prior.isoformat()} if prior else {}),
    }
    response = h.client.post(
        f"/api/v3_0/assets/{h.world.assets['site']}/schedules/trigger", json=body, headers=h.headers()
    )
    assert response.status_code == 200, response.text
    schedule_id = response.json()["schedule"]
    h.settle()
    found = {}
    for device in ("battery", "evse"):
        got = h.client.get(
            f"/api/v3_0/sensors/{h.world.sensors[device + '/power']}/schedules/{schedule_id}",
            params={"duration": "PT12H"},
            headers=h.headers(),
        )
        assert got.status_code == 200, got.text
        found[device] = got.json()["values"]
    return found


def test_a_tariff_schedules_as_the_same_prices_posted_as_a_sensor(harness):
    tariff_id = _create(harness, login(harness), NIGHT_AND_DAY)
    by_sensor = _trigger(harness)  # the site's flex-context: the price sensor
    by_tariff = _trigger(harness, {"consumption-price": {"tariff": tariff_id}})
    assert by_tariff == by_sensor
    assert any(abs(v) > 1e-6 for v in by_sensor["battery"])  # not a trivial schedule
    flat = _create(
        harness,
        login(harness),
        {**NIGHT_AND_DAY, "name": "flat", "timeofuse": [_tou("00:00:00", "23:59:59", "midpeak", 50)]},
    )
    assert _trigger(harness, {"consumption-price": {"tariff": flat}}) != by_sensor  # the tariff matters


def test_tariff_references_are_checked_at_trigger(harness):
    start = datetime(2015, 6, 2, 18, tzinfo=UTC).isoformat()
    model = [{"sensor": harness.world.sensors["battery/power"], "soc-at-start": "50 kWh"}]
    bob_tariff = _create(harness, login(harness, BOB), {**NIGHT_AND_DAY, "name": "bob's"})
    block = _create(harness, login(harness), {**SEED_BLOCK, "name": "block for scheduling"})
    expired = _create(
        harness, login(harness), {**NIGHT_AND_DAY, "name": "expired", "valid_through": "2015-06-02T20:00:00"}
    )
    beyond = datetime(2015, 6, 5, 18, tzinfo=UTC).isoformat()  # no tariff of the account is valid after 6 June
    cases = (
        (bob_tariff, "UNRESOLVED_SENSOR", start),
        (block, "INVALID_VALUE", start),
        (expired, "INVALID_VALUE", beyond),
    )
    for tariff_id, code, at in cases:
        response = harness.client.post(
            f"/api/v3_0/assets/{harness.world.assets['site']}/schedules/trigger",
            headers=harness.headers(),
            json={
                "start": at,
                "duration": "PT12H",
                "flex-model": model,
                "flex-context": {"consumption-price": {"tariff": tariff_id}},
            },
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "flex-context.consumption-price", response.text
        assert response.json()["status"] == code


def test_cost_centers_are_accounts_with_their_tariffs(harness):
    headers = login(harness)
    alpha = harness.world.accounts["Alpha"]
    tariff_id = _create(harness, headers, {**NIGHT_AND_DAY, "name": "cost center tariff"})
    listed = harness.client.get("/myems/costcenters", headers=headers).json()
    assert [c["id"] for c in listed] == [alpha] and set(listed[0]) == {"id", "name", "uuid", "external_id"}
    assert harness.client.get(f"/myems/costcenters/{alpha}", headers=headers).json()["name"] == "Alpha"
    tariffs = harness.client.get(f"/myems/costcenters/{alpha}/tariffs", headers=headers).json()
    assert tariff_id in [t["id"] for t in tariffs]
    assert all(set(t) == {"id", "name", "uuid", "tariff_type", "unit_of_price"} for t in tariffs)
    other = harness.client.get(f"/myems/costcenters/{harness.world.accounts['Beta']}", headers=headers)
    assert other.status_code == 403
    assert (
        harness.client.get("/myems/costcenters/999", headers=headers).json()["description"]
        == "API.COST_CENTER_NOT_FOUND"
    )


def test_a_schedule_is_priced_with_the_tariffs_as_known_at_its_trigger(harness):
    """Redefining a tariff after a trigger's belief time (``prior``) does not change that trigger's
    prices: the scheduler reads the tariff's version known then (projections.myems_tariffs)."""
    headers = login(harness)
    tariff_id = _create(harness, headers, {**NIGHT_AND_DAY, "name": "as known"})
    known = datetime.now(UTC)  # after the first definition was recorded, before the redefinition
    flat = {**NIGHT_AND_DAY, "name": "as known", "timeofuse": [_tou("00:00:00", "23:59:59", "midpeak", 50)]}
    assert harness.client.put(f"/myems/tariffs/{tariff_id}", json={"data": flat}, headers=headers).status_code == 200
    by_sensor = _trigger(harness)  # the same prices as the first definition, posted as a sensor
    reference = {"consumption-price": {"tariff": tariff_id}}
    assert _trigger(harness, reference, prior=known) == by_sensor
    assert _trigger(harness, reference) != by_sensor  # now: the flat redefinition


def test_steps_outside_the_named_tariff_take_the_tariff_valid_then(harness):
    """A schedule crossing the named tariff's ``valid_through`` is priced on by the account's tariff
    valid after it (same energy category; EUR/kWh converted to the named tariff's EUR/MWh)."""
    headers = login(harness)
    first = {**NIGHT_AND_DAY, "name": "until the 2nd, 22:00", "valid_through": "2015-06-02T22:00:00"}
    tariff_id = _create(harness, headers, first)
    _create(
        harness,
        headers,
        {
            **NIGHT_AND_DAY,
            "name": "from the 2nd, 22:00",
            "unit_of_price": "EUR/kWh",
            "valid_from": "2015-06-02T22:00:00",
            "timeofuse": [
                _tou("00:00:00", "05:59:59", "offpeak", 0.030),
                _tou("06:00:00", "21:59:59", "onpeak", 0.080),
                _tou("22:00:00", "23:59:59", "offpeak", 0.030),
            ],
        },
    )
    assert _trigger(harness, {"consumption-price": {"tariff": tariff_id}}) == _trigger(harness)

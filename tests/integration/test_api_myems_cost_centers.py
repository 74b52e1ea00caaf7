"""MyEMS ``costcenters`` writes and tariff bindings (issue 14), with the seed's own requests: a
cost center is an account; the tariffs bound to it price its meters in the reports."""

from __future__ import annotations

from myems_support import (
    ADMIN,
    NIGHT_AND_DAY,
    check_shape,
    created_id,
    hourly_meter,
    login,
    myems_api,  # noqa: F401 - the api fixture
)

COST_CENTER = {"id": int, "name": str, "uuid": str, "external_id": str}
BOUND_TARIFF = {"id": int, "name": str, "uuid": str, "tariff_type": str, "unit_of_price": str}


def test_seed_cost_center_create_update_delete(api):
    admin, alice = login(api, ADMIN), login(api)
    seed = {"data": {"name": "动力中心", "external_id": "21829198980001"}}
    assert api.client.post("/myems/costcenters", headers=alice, json=seed).status_code == 403
    cost_center = created_id(api.client.post("/myems/costcenters", headers=admin, json=seed), "costcenters")
    item = api.client.get(f"/myems/costcenters/{cost_center}", headers=admin).json()
    check_shape(item, COST_CENTER)
    assert (item["name"], item["external_id"]) == ("动力中心", "21829198980001")
    assert cost_center in [c["id"] for c in api.client.get("/myems/costcenters", headers=admin).json()]
    again = api.client.post("/myems/costcenters", headers=admin, json=seed)
    assert (again.status_code, again.json()["description"]) == (400, "API.COST_CENTER_NAME_EXISTS")
    same_external = api.client.post("/myems/costcenters", headers=admin,
                                    json={"data": {"name": "other", "external_id": "21829198980001"}})
    assert same_external.json()["description"] == "API.COST_CENTER_EXTERNAL_ID_EXISTS"

    update = {"data": {"name": "动力中心2", "external_id": "21829198980002"}}
    assert api.client.put(f"/myems/costcenters/{cost_center}", headers=alice, json=update).status_code == 403
    assert api.client.put(f"/myems/costcenters/{cost_center}", headers=admin, json=update).status_code == 200
    item = api.client.get(f"/myems/costcenters/{cost_center}", headers=admin).json()
    assert (item["name"], item["external_id"]) == ("动力中心2", "21829198980002")
    account = api.client.get(f"/api/v3_0/accounts/{cost_center}", headers=api.auth(ADMIN)).json()
    assert account["name"] == "动力中心2"  # the platform's account, no second copy

    alpha = api.world.accounts["Alpha"]
    busy = api.client.delete(f"/myems/costcenters/{alpha}", headers=admin)
    assert busy.status_code == 400 and busy.json()["description"].startswith("API.THERE_IS_RELATION_WITH_")
    assert api.client.delete(f"/myems/costcenters/{cost_center}", headers=alice).status_code == 403
    assert api.client.delete(f"/myems/costcenters/{cost_center}", headers=admin).status_code == 204
    gone = api.client.get(f"/myems/costcenters/{cost_center}", headers=admin)
    assert (gone.status_code, gone.json()["description"]) == (404, "API.COST_CENTER_NOT_FOUND")


def _peaks(api, headers, meter: int) -> dict:
    report = api.client.get("/myems/reports/meterenergy", headers=headers, params={
        "meterid": meter, "periodtype": "daily", "reportingperiodstartdatetime": "2015-06-02T00:00:00",
        "reportingperiodenddatetime": "2015-06-03T00:00:00"})  # fmt: skip
    assert report.status_code == 200, report.text
    return {k: report.json()["reporting_period"][k] for k in ("toppeak", "onpeak", "midpeak", "offpeak")}


def test_seed_tariff_binding_drives_the_meter_report(api):
    admin, alice = login(api, ADMIN), login(api)
    alpha = api.world.accounts["Alpha"]
    created = api.client.post("/myems/tariffs", headers=alice, json={"data": {**NIGHT_AND_DAY, "name": "cc tariff"}})
    tariff = created_id(created, "tariffs")
    meter = hourly_meter(api, alice, "cost center meter")
    posted = api.client.post(f"/api/v3_0/sensors/{meter}/data", headers=api.auth(), json={
        "values": [1.0] * 24, "start": "2015-06-02T00:00:00+00:00", "duration": "PT24H", "unit": "kWh"})
    assert posted.status_code == 200, posted.text
    assert api.platform.wait_for(api.head())

    bound = api.client.get(f"/myems/costcenters/{alpha}/tariffs", headers=alice).json()
    [item] = [t for t in bound if t["id"] == tariff]  # a tariff is bound to its account's cost center
    check_shape(item, BOUND_TARIFF)
    assert (item["tariff_type"], item["unit_of_price"]) == ("timeofuse", "EUR/MWh")
    assert _peaks(api, alice, meter) == {"toppeak": 0.0, "onpeak": 16.0, "midpeak": 0.0, "offpeak": 8.0}

    path = f"/myems/costcenters/{alpha}/tariffs"
    assert api.client.delete(f"{path}/{tariff}", headers=alice).status_code == 403  # MyEMS: admins only
    assert api.client.delete(f"{path}/{tariff}", headers=admin).status_code == 204
    assert tariff not in [t["id"] for t in api.client.get(path, headers=alice).json()]
    assert _peaks(api, alice, meter) == {"toppeak": 0.0, "onpeak": 0.0, "midpeak": 0.0, "offpeak": 0.0}
    twice = api.client.delete(f"{path}/{tariff}", headers=admin)
    assert (twice.status_code, twice.json()["description"]) == (404, "API.TARIFF_IS_NOT_ASSOCIATED_WITH_COST_CENTER")
    assert "tariff_id" in str(twice.json()), twice.text  # names the path's field

    seed = {"data": {"tariff_id": str(tariff)}}  # the seed sends the id as text
    bind = api.client.post(path, headers=admin, json=seed)
    assert bind.status_code == 201 and bind.headers["Location"] == f"{path}/{tariff}", bind.text
    assert _peaks(api, alice, meter)["onpeak"] == 16.0
    again = api.client.post(path, headers=admin, json=seed)
    assert again.json()["description"] == "API.TARIFF_IS_ALREADY_ASSOCIATED_WITH_COST_CENTER"
    for bad, status, description in (("x", 400, "API.INVALID_TARIFF_ID"), ("999999", 404, "API.TARIFF_NOT_FOUND")):
        refused = api.client.post(path, headers=admin, json={"data": {"tariff_id": bad}})
        assert (refused.status_code, refused.json()["description"]) == (status, description), refused.text
    beta = api.world.accounts["Beta"]
    foreign = api.client.post(f"/myems/costcenters/{beta}/tariffs", headers=admin, json=seed)
    assert (foreign.status_code, foreign.json()["description"]) == (404, "API.TARIFF_NOT_FOUND")

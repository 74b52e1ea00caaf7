"""MyEMS families served by the generic builder (issue 14): energystoragepowerstations (+ containers,
users), windfarms, virtualpowerplants (+ microgrids), gateways, datasources (+ points) and sensors
(+ points). Every endpoint of each family in the seed (myems-api.txt) is sent the seed's own example
request (its ``{"data": ...}`` body, headers, content type; ids replaced by this world's), and the
answer is checked for status and shape field by field; isolation between accounts and auditors'
read-only access on the same objects."""

from __future__ import annotations

import json

from myems_support import (
    AUDITOR,
    REF,
    SITE,
    SITE_TYPES,
    alice_session,  # noqa: F401 - the alice fixture
    check_shape,
    created_id,
    login,
    myems_api,  # noqa: F401 - the api fixture
    new_container,
    new_microgrid,
)
from test_api_support import BOB, ApiHarness

from projections import registry_query as rq


def _crud(
    api: ApiHarness,
    headers: dict,
    path: str,
    body: dict,
    types: dict,
    *,
    text_plain: bool = False,
    import_path: str = "/{id}/import",
) -> int:
    """The seed's list, create, get, update, export, import, clone and delete of one family."""

    def post(url: str, data: dict | None = None):
        if data is None:
            return api.client.post(url, headers=headers)
        if text_plain:  # the seed sends these bodies as text/plain
            return api.client.post(
                url, content=json.dumps({"data": data}), headers={**headers, "Content-Type": "text/plain"}
            )
        return api.client.post(url, json={"data": data}, headers=headers)

    entity = created_id(post(f"/myems/{path}", body), path)
    item = api.client.get(f"/myems/{path}/{entity}", headers=headers).json()
    check_shape(item, types)
    assert item["name"] == body["name"]
    assert entity in [row["id"] for row in api.client.get(f"/myems/{path}", headers=headers).json()]
    same_name = post(f"/myems/{path}", body)
    assert same_name.status_code == 400 and same_name.json()["description"].endswith("_NAME_IS_ALREADY_IN_USE")
    changed = {**body, "description": "New"}
    put = api.client.put(
        f"/myems/{path}/{entity}",
        headers=headers,
        content=json.dumps({"data": changed}) if text_plain else None,
        json=None if text_plain else {"data": changed},
    )
    assert put.status_code == 200, put.text
    exported = api.client.get(f"/myems/{path}/{entity}/export", headers=headers).json()
    assert exported["description"] == "New" and exported["uuid"] == item["uuid"]
    imported = created_id(post(f"/myems/{path}" + import_path.format(id=entity), {**body, "name": "Imported"}), path)
    clone = created_id(post(f"/myems/{path}/{entity}/clone"), path)
    assert api.client.get(f"/myems/{path}/{clone}", headers=headers).json()["name"] == f"{body['name']} (Copy)"
    assert api.client.get(f"/myems/{path}/{entity}", headers=login(api, BOB)).status_code in (403, 404)
    refused = api.client.delete(f"/myems/{path}/{entity}", headers=login(api, AUDITOR))
    assert refused.status_code == 403
    for gone in (imported, clone):
        assert api.client.delete(f"/myems/{path}/{gone}", headers=headers).status_code == 204
        assert api.client.get(f"/myems/{path}/{gone}", headers=headers).status_code == 404
    return entity


def test_wind_farms(api, alice):
    headers, ids = alice
    farm = _crud(
        api,
        headers,
        "windfarms",
        {**SITE, **ids},
        SITE_TYPES,
        text_plain=True,
        import_path="/{id}",
    )  # the seed imports with POST /windfarms/{id}
    item = api.client.get(f"/myems/windfarms/{farm}", headers=headers).json()
    assert item["qrcode"] == "windfarm:" + item["uuid"] and item["capacity"] == 600.0
    with api.platform.read_models.read_engine.connect() as conn:  # the platform's own wind asset and sensor
        assert rq.asset_by_id(conn, farm)["asset_type"] == "wind"
        assert [(s["name"], s["unit"]) for s in rq.list_sensors(conn, asset_id=farm)] == [("power", "kW")]
    assert api.client.delete(f"/myems/windfarms/{farm}", headers=headers).status_code == 204


def test_energy_storage_power_stations_with_containers_and_users(api, alice):
    headers, ids = alice
    station = _crud(api, headers, "energystoragepowerstations", {**SITE, **ids}, SITE_TYPES)
    base = f"/myems/energystoragepowerstations/{station}"
    container = new_container(api, alice, "Container A")
    bound = api.client.post(
        f"{base}/containers", headers=headers, json={"data": {"energy_storage_container_id": container}}
    )
    assert bound.status_code == 201 and bound.headers["Location"] == f"{base}/containers/{container}"
    again = api.client.post(
        f"{base}/containers", headers=headers, json={"data": {"energy_storage_container_id": container}}
    )
    assert again.status_code == 400
    listed = api.client.get(f"{base}/containers", headers=headers).json()
    assert [row["id"] for row in listed] == [container]
    check_shape(listed[0], REF)
    blocked = api.client.delete(base, headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_CONTAINERS"
    user = api.client.post(f"{base}/users", headers=headers, json={"data": {"user_id": ids["contact_id"]}})
    assert user.status_code == 201
    users = api.client.get(f"{base}/users", headers=headers).json()
    assert [u["id"] for u in users] == [ids["contact_id"]]
    check_shape(users[0], REF)
    bob = api.client.put("/myems/users/login", json={"data": {"email": BOB, "password": "correct horse battery"}})
    foreign = api.client.post(f"{base}/users", headers=headers, json={"data": {"user_id": bob.json()["id"]}})
    assert foreign.status_code == 404 and foreign.json()["description"] == "API.USER_NOT_FOUND"
    assert api.client.delete(f"{base}/users/{ids['contact_id']}", headers=headers).status_code == 204
    assert api.client.delete(f"{base}/containers/{container}", headers=headers).status_code == 204
    missing = api.client.delete(f"{base}/containers/{container}", headers=headers)
    assert missing.status_code == 404
    assert api.client.get(f"{base}/containers", headers=headers).json() == []
    assert api.client.delete(base, headers=headers).status_code == 204


def test_virtual_power_plants_with_microgrids(api, alice):
    headers, ids = alice
    price = api.sensor("Prices/day-ahead")
    body = {
        "name": "Beijing VPP",
        "cost_center_id": ids["cost_center_id"],
        "balancing_price_point_id": price,
        "svg": "<svg></svg>",
        "description": "Classic",
    }
    types = {
        "id": int,
        "name": str,
        "uuid": str,
        "cost_center": dict,
        "balancing_price_point": dict,
        "svg": str,
        "description": str,
    }
    plant = _crud(api, headers, "virtualpowerplants", body, types)
    item = api.client.get(f"/myems/virtualpowerplants/{plant}", headers=headers).json()
    assert item["balancing_price_point"]["id"] == price and item["cost_center"]["id"] == ids["cost_center_id"]
    microgrid = new_microgrid(api, alice, "MG for VPP")
    base = f"/myems/virtualpowerplants/{plant}/microgrids"
    assert api.client.post(base, headers=headers, json={"data": {"microgrid_id": microgrid}}).status_code == 201
    assert [m["id"] for m in api.client.get(base, headers=headers).json()] == [microgrid]
    assert api.client.delete(f"/myems/virtualpowerplants/{plant}", headers=headers).status_code == 400
    assert api.client.delete(f"{base}/{microgrid}", headers=headers).status_code == 204
    assert api.client.delete(f"/myems/virtualpowerplants/{plant}", headers=headers).status_code == 204
    bad = api.client.post(
        "/myems/virtualpowerplants",
        headers=headers,
        json={"data": {**body, "name": "x", "balancing_price_point_id": 999_999}},
    )
    assert bad.status_code == 404 and bad.json()["field"] == "balancing_price_point_id"


def test_gateways_data_sources_and_their_points(api, alice):
    headers = alice.headers
    gateway_types = {
        "id": int,
        "name": str,
        "uuid": str,
        "token": str,
        "last_seen_datetime": float,
        "status": str,
        "description": str,
    }
    gateway = _crud(api, headers, "gateways", {"name": "MyEMS Gateway 3", "description": "Gateway 3"}, gateway_types)
    item = api.client.get(f"/myems/gateways/{gateway}", headers=headers).json()
    assert len(item["token"]) == 128 and item["status"] == "offline" and item["last_seen_datetime"] is None
    assert (
        api.client.put(
            f"/myems/gateways/{gateway}",
            headers=headers,
            json={"data": {"name": "MyEMS Gateway #3", "description": "Gateway #3"}},
        ).status_code
        == 200
    )
    assert api.client.get(f"/myems/gateways/{gateway}", headers=headers).json()["token"] == item["token"]
    source_body = {
        "name": "Modbus1",
        "gateway_id": gateway,
        "protocol": "modbus-tcp",
        "connection": '{"host":"10.1.2.88", "port":502}',
        "description": "Modbus1",
    }
    source_types = {
        "id": int,
        "name": str,
        "gateway": dict,
        "uuid": str,
        "protocol": str,
        "connection": str,
        "last_seen_datetime": str,
        "status": str,
        "description": str,
    }
    source = _crud(api, headers, "datasources", source_body, source_types)
    nested = api.client.post(
        f"/myems/datasources/{source}/import",
        headers=headers,  # the seed nests "data"
        json={"data": {"data": {**source_body, "name": "Nested"}}},
    )
    assert (
        api.client.delete(f"/myems/datasources/{created_id(nested, 'datasources')}", headers=headers).status_code == 204
    )
    assert [s["id"] for s in api.client.get(f"/myems/gateways/{gateway}/datasources", headers=headers).json()] == [
        source
    ]
    point = api.client.post(
        "/api/v3_0/sensors",
        headers=api.auth(),
        json={"name": "temperature", "unit": "°C", "event_resolution": "PT15M", "generic_asset_id": source},
    )
    assert point.status_code in (200, 201), point.text
    point_id = point.json()["id"]
    points = api.client.get(f"/myems/datasources/{source}/points", headers=headers).json()
    assert [p["id"] for p in points] == [point_id] and points[0]["data_source"]["id"] == source
    posted = api.client.post(
        f"/api/v3_0/sensors/{point_id}/data",
        headers=api.auth(),
        json={"values": [21.5], "start": "2015-06-01T00:00:00+00:00", "duration": "PT15M", "unit": "°C"},
    )
    assert posted.status_code == 200, posted.text
    assert api.platform.wait_for(api.head())  # the readings read model holds the reading
    seen = api.client.get(f"/myems/gateways/{gateway}", headers=headers).json()
    assert seen["status"] == "online" and isinstance(seen["last_seen_datetime"], float)  # believed just now
    source_seen = api.client.get(f"/myems/datasources/{source}", headers=headers).json()
    assert source_seen["status"] == "online" and len(source_seen["last_seen_datetime"]) == 19
    blocked = api.client.delete(f"/myems/datasources/{source}", headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_POINTS"
    blocked = api.client.delete(f"/myems/gateways/{gateway}", headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_DATA_SOURCES"
    wrong = api.client.post(
        "/myems/datasources", headers=headers, json={"data": {**source_body, "name": "W", "protocol": "carrier-pigeon"}}
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "protocol"


def test_sensors_group_points(api, alice):
    headers = alice.headers
    sensor = _crud(
        api,
        headers,
        "sensors",
        {"name": "Sensor10", "description": "sensor description"},
        {"id": int, "name": str, "uuid": str, "description": str},
    )
    base = f"/myems/sensors/{sensor}/points"
    point = api.sensor("Meter/energy")
    bound = api.client.post(base, headers=headers, json={"data": {"point_id": str(point)}})  # the seed sends "2"
    assert bound.status_code == 201, bound.text
    points = api.client.get(base, headers=headers).json()
    assert [p["id"] for p in points] == [point]
    assert set(points[0]) >= {"id", "name", "data_source", "object_type", "units"}
    unknown = api.client.post(base, headers=headers, json={"data": {"point_id": 999_999}})
    assert unknown.status_code == 404 and unknown.json()["description"] == "API.POINT_NOT_FOUND"
    foreign = api.client.post(base, headers=headers, json={"data": {"point_id": api.sensor("Other CS/power")}})
    assert foreign.status_code == 403
    assert api.client.delete(f"{base}/{point}", headers=headers).status_code == 204
    assert api.client.get(base, headers=headers).json() == []

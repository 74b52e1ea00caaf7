"""MyEMS bindings and bounds (issue 14): the seed's microgrids/{id}/users, microgrids/{id}/sensors and
energystoragecontainers/{id}/sensors requests checked field by field, and ids beyond the SQL BIGINT
range or years beyond the calendar refused with a 4xx naming the field, never a 5xx."""

from __future__ import annotations

import pytest
from myems_support import (
    AUDITOR,
    REF,
    alice_session,  # noqa: F401 - the alice fixture
    check_shape,
    created_id,
    login,
    myems_api,  # noqa: F401 - the api fixture
    new_container,
    new_microgrid,
)
from test_api_support import BOB


def test_microgrid_and_container_bindings_of_users_and_sensors(api, alice):
    """The seed's microgrids/{id}/users, microgrids/{id}/sensors and energystoragecontainers/{id}/sensors
    (the latter with the seed's body field ``energy_storage_container_id`` naming the sensor)."""
    headers, ids = alice
    microgrid = new_microgrid(api, alice, "MG bindings")
    container = new_container(api, alice, "Container bindings")
    sensor = created_id(
        api.client.post(
            "/myems/sensors",
            headers=headers,
            json={"data": {"name": "Sensor for bindings", "description": "sensor description"}},
        ),
        "sensors",
    )
    cases = (
        (f"/myems/microgrids/{microgrid}/users", {"user_id": ids["contact_id"]}, ids["contact_id"]),
        (f"/myems/microgrids/{microgrid}/sensors", {"sensor_id": sensor}, sensor),
        (f"/myems/energystoragecontainers/{container}/sensors", {"energy_storage_container_id": sensor}, sensor),
    )
    for base, body, member in cases:
        assert api.client.get(base, headers=headers).json() == []
        bound = api.client.post(base, headers=headers, json={"data": body})
        assert bound.status_code == 201, bound.text
        listed = api.client.get(base, headers=headers).json()
        assert [m["id"] for m in listed] == [member]
        check_shape(listed[0], REF)
        assert api.client.post(base, headers=login(api, AUDITOR), json={"data": body}).status_code == 403
        assert api.client.get(base, headers=login(api, BOB)).status_code == 403
        assert api.client.delete(f"{base}/{member}", headers=headers).status_code == 204
        assert api.client.get(base, headers=headers).json() == []
    unknown = api.client.post(
        f"/myems/microgrids/{microgrid}/sensors", headers=headers, json={"data": {"sensor_id": 999_999}}
    )
    assert unknown.status_code == 404 and unknown.json()["description"] == "API.SENSOR_NOT_FOUND"
    bad = api.client.post(f"/myems/microgrids/{microgrid}/users", headers=headers, json={"data": {"user_id": "x"}})
    assert bad.status_code == 400 and bad.json()["field"] == "user_id"


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("get", f"/myems/windfarms/{2**63}", None, "entity_id"),
        ("delete", f"/myems/sensors/1/points/{10**30}", None, "member_id"),
        ("get", f"/myems/offlinemeterfiles/{2**63}", None, "file_id"),
        (
            "post",
            "/myems/datasources",
            {"name": "x", "gateway_id": "99999999999999999999", "protocol": "mqtt", "connection": "{}"},
            "gateway_id",
        ),
        ("get", "/myems/reports/energystoragepowerstationlist?now=9999-12-31T00:00:00%2B00:00", None, "now"),
        ("get", f"/myems/reports/meterbatch?spaceid={10**30}", None, "spaceid"),
        ("get", f"/myems/reports/meterenergy?periodtype=daily&meterid={10**30}", None, "meterid"),
        ("get", f"/myems/reports/virtualmeterenergy?periodtype=daily&virtualmeterid={2**63}", None, "virtualmeterid"),
    ],
)
def test_ids_and_times_out_of_range_are_4xx_naming_the_field(api, alice, method, url, body, field):
    """Ids beyond the SQL BIGINT range and years beyond the calendar are refused, never a 5xx."""
    headers = alice.headers
    response = getattr(api.client, method)(url, headers=headers, **({"json": {"data": body}} if body else {}))
    assert response.status_code in (400, 404), response.text
    assert response.json()["field"] == field

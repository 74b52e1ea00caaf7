"""Shared fixture pieces for the MyEMS energy-management tests (issue 14): an admin and an auditor
beside the seeded world, MyEMS log-in headers, the seed's site body and helpers to check a
created object's ``Location`` and an item's fields and types."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import NamedTuple

import pytest
from scheduling_support import SchedulingHarness
from test_api_support import ALICE, PASSWORD, ApiHarness

from commands import registry as cmd

ADMIN, AUDITOR = "admin@flexledger.test", "auditor@flexledger.test"
SEED_USER_UUID = "dcdb67d1-6116-4987-916f-6fc6cf2bc0e4"  # the seed's example header value


def add_admin_and_auditor(harness: ApiHarness) -> None:
    ctx, alpha = harness.platform.commands, harness.world.accounts["Alpha"]
    for email, roles in ((ADMIN, ["admin"]), (AUDITOR, ["auditor"])):
        harness.world.users[email] = cmd.register_user(
            ctx,
            cmd.RegisterUser(
                email=email, password=PASSWORD, account_id=alpha, roles=roles, username=email.split("@")[0]
            ),
        )


@pytest.fixture(scope="module", name="api")
def myems_api(tmp_path_factory):
    """Fixture ``api``: the seeded platform served in process, with an admin and an auditor of Alpha
    added and projected; one per test module that imports it."""
    with ApiHarness(tmp_path_factory.mktemp("myems")) as harness:
        add_admin_and_auditor(harness)
        assert harness.platform.wait_for(harness.head())
        yield harness


@pytest.fixture(scope="module", name="harness")
def myems_scheduling_harness(tmp_path_factory):
    """Fixture ``harness``: the scheduling world (prices, a site with devices) with its scheduler running."""
    h = SchedulingHarness(tmp_path_factory.mktemp("myems-scheduling"))
    try:
        yield h
    finally:
        h.close()


class Session(NamedTuple):
    """alice's MyEMS headers and the ids a MyEMS body names her and her account by."""

    headers: dict
    ids: dict


@pytest.fixture(name="alice")
def alice_session(api) -> Session:
    """Fixture ``alice``: log in as alice (MyEMS headers) and her ``contact_id``/``cost_center_id``."""
    headers = login(api)
    return Session(headers, account_ids(api, headers))


def login(api: ApiHarness, email: str = ALICE, password: str = PASSWORD) -> dict:
    response = api.client.put("/myems/users/login", json={"data": {"email": email, "password": password}})
    assert response.status_code == 200, response.text
    body = response.json()
    return {"User-UUID": body["uuid"], "Token": body["token"]}


def tou(start: str, end: str, peak_type: str, price: float) -> dict:
    return {"start_time_of_day": start, "end_time_of_day": end, "peak_type": peak_type, "price": price}


NIGHT_AND_DAY = {
    "name": "night and day",
    "energy_category_id": 1,
    "tariff_type": "timeofuse",
    "unit_of_price": "EUR/MWh",
    "valid_from": "2015-06-01T00:00:00",
    "valid_through": "2015-06-06T00:00:00",
    "timeofuse": [  # the harness' price sensor: 30 from 22:00 to 06:00 UTC, 80 otherwise
        tou("00:00:00", "05:59:59", "offpeak", 30),
        tou("06:00:00", "21:59:59", "onpeak", 80),
        tou("22:00:00", "23:59:59", "offpeak", 30),
    ],
}


SITE = {
    "name": "Beijing Office",
    "address": "Wangfujing Street, Dongcheng District, Beijing",
    "postal_code": "100000",
    "latitude": 39.909429,
    "longitude": 116.416993,
    "capacity": 600.000,
    "contact_id": 1,
    "cost_center_id": 1,
    "svg": "<svg></svg>",
    "description": "Classic",
}
SITE_TYPES = {
    "id": int,
    "name": str,
    "uuid": str,
    "address": str,
    "postal_code": str,
    "latitude": float,
    "longitude": float,
    "capacity": float,
    "contact": dict,
    "cost_center": dict,
    "svg": str,
    "description": str,
    "qrcode": str,
}
REF = {"id": int, "name": str, "uuid": str}


def account_ids(api: ApiHarness, headers: dict) -> dict:
    me = api.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": "correct horse battery"}})
    return {"contact_id": me.json()["id"], "cost_center_id": api.world.accounts["Alpha"]}


def created_id(response, path: str) -> int:
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    assert location.startswith(f"/myems/{path}/")
    return int(location.rsplit("/", 1)[1])


def check_shape(item: dict, types: dict) -> None:
    assert list(item) == list(types), item
    assert {k: type(v) for k, v in item.items() if v is not None} == {
        k: t for k, t in types.items() if item[k] is not None
    }, item


def opsd_net_import_kw(folder) -> list[tuple[datetime, float]]:
    """Hourly net grid import (kW, export negative) of OPSD household 4 in March 2016: differences of
    the cumulative import and export meters, used as a battery's charge (+) and discharge (-)."""
    rows = []
    with open(folder / "opsd" / "household_res4_60min.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if "2016-03-01T00:00:00Z" <= row["utc_timestamp"] <= "2016-04-01T00:00:00Z":
                rows.append((datetime.fromisoformat(row["utc_timestamp"].replace("Z", "+00:00")),
                             float(row["DE_KN_residential4_grid_import"]),
                             float(row["DE_KN_residential4_grid_export"])))  # fmt: skip
    return [(t0, round((i1 - i0) - (e1 - e0), 3)) for (t0, i0, e0), (_, i1, e1) in zip(rows, rows[1:], strict=False)]


def _new_id(api: ApiHarness, path: str, headers: dict, data: dict) -> int:
    response = api.client.post(path, headers=headers, json={"data": data})
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def storage_station(api: ApiHarness, headers: dict, me: int, name: str = "Beijing Office", **extra) -> tuple[int, int]:
    """A storage power station built through the MyEMS API (the seed's body, ``extra`` fields added): a
    container (600 kWh, 200 kW) with one battery, bound to the station with the caller ``me`` as its
    user; returns the station id and the battery's power sensor id."""
    alpha = api.world.accounts["Alpha"]
    station = _new_id(api, "/myems/energystoragepowerstations", headers, {
        **{k: v for k, v in SITE.items() if k != "name"}, "name": name, "contact_id": me, "cost_center_id": alpha,
        **extra})  # fmt: skip
    container = _new_id(api, "/myems/energystoragecontainers", headers, {
        "name": f"Container of {name}", "rated_capacity": 600.0, "rated_power": 200.0, "contact_id": me,
        "cost_center_id": alpha, "svg_id": "1", "description": "Classic"})  # fmt: skip
    battery = _new_id(api, f"/myems/energystoragecontainers/{container}/batteries", headers,
                      {"name": "Battery", "rated_capacity": 600, "rated_power": 200})  # fmt: skip
    for sub, body in (("containers", {"energy_storage_container_id": container}), ("users", {"user_id": me})):
        bound = api.client.post(f"/myems/energystoragepowerstations/{station}/{sub}", headers=headers,
                                json={"data": body})  # fmt: skip
        assert bound.status_code == 201, bound.text
    power = api.client.get(f"/myems/energystoragecontainers/{container}/batteries/{battery}", headers=headers)
    return station, power.json()["power_point"]["id"]


CONTAINER = {"rated_capacity": 600.000, "rated_power": 200.000, "svg_id": "1", "description": "Classic"}
"""The seed's energy storage container body (without name and owner ids)."""


def new_microgrid(api: ApiHarness, alice: Session, name: str) -> int:
    """A microgrid of the seed's body named ``name``, created through the MyEMS API as alice."""
    body = {**SITE, **alice.ids, "name": name, "architecture_type_id": 1, "owner_type_id": 1}
    return created_id(api.client.post("/myems/microgrids", headers=alice.headers, json={"data": body}), "microgrids")


def new_container(api: ApiHarness, alice: Session, name: str) -> int:
    """An energy storage container of the seed's body named ``name``, created through the MyEMS API as alice."""
    body = {**CONTAINER, **alice.ids, "name": name}
    response = api.client.post("/myems/energystoragecontainers", headers=alice.headers, json={"data": body})
    return created_id(response, "energystoragecontainers")


def hourly_meter(api: ApiHarness, headers: dict, name: str) -> int:
    """A MyEMS meter (kWh per hour) on the world's ``Meter`` asset, created through the MyEMS API."""
    response = api.client.post("/myems/meters", headers=headers, json={"data": {
        "name": name, "energy_category_id": 1, "hourly_low_limit": 0, "hourly_high_limit": 99, "is_counted": True,
        "cost_center_id": api.world.accounts["Alpha"], "asset_id": api.asset("Meter"), "event_resolution_s": 3600}})
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])

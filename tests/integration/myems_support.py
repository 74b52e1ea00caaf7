"""Shared fixture pieces for the MyEMS energy-management tests (issue 14): an admin and an auditor
beside the seeded world, MyEMS log-in headers, the seed's site body and helpers to check a
created object's ``Location`` and an item's fields and types."""

from __future__ import annotations

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

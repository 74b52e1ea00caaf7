"""Shared fixture pieces for the MyEMS energy-management tests (issue 14): an admin and an auditor
beside the seeded world, and MyEMS log-in headers."""

from __future__ import annotations

from test_api_support import ALICE, PASSWORD, ApiHarness

from commands import registry as cmd

ADMIN, AUDITOR = "admin@flexledger.test", "auditor@flexledger.test"
SEED_USER_UUID = "dcdb67d1-6116-4987-916f-6fc6cf2bc0e4"  # the seed's example header value


def add_admin_and_auditor(harness: ApiHarness) -> None:
    ctx, alpha = harness.platform.commands, harness.world.accounts["Alpha"]
    for email, roles in ((ADMIN, ["admin"]), (AUDITOR, ["auditor"])):
        harness.world.users[email] = cmd.register_user(ctx, cmd.RegisterUser(
            email=email, password=PASSWORD, account_id=alpha, roles=roles, username=email.split("@")[0]))


def login(api: ApiHarness, email: str = ALICE, password: str = PASSWORD) -> dict:
    response = api.client.put("/myems/users/login", json={"data": {"email": email, "password": password}})
    assert response.status_code == 200, response.text
    body = response.json()
    return {"User-UUID": body["uuid"], "Token": body["token"]}


def tou(start: str, end: str, peak_type: str, price: float) -> dict:
    return {"start_time_of_day": start, "end_time_of_day": end, "peak_type": peak_type, "price": price}


NIGHT_AND_DAY = {"name": "night and day", "energy_category_id": 1, "tariff_type": "timeofuse",
                 "unit_of_price": "EUR/MWh", "valid_from": "2015-06-01T00:00:00",
                 "valid_through": "2015-06-06T00:00:00",
                 "timeofuse": [  # the harness' price sensor: 30 from 22:00 to 06:00 UTC, 80 otherwise
                     tou("00:00:00", "05:59:59", "offpeak", 30),
                     tou("06:00:00", "21:59:59", "onpeak", 80),
                     tou("22:00:00", "23:59:59", "offpeak", 30)]}

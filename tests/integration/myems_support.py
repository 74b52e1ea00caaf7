"""Shared fixture pieces for the MyEMS energy-management tests (issue 14): an admin and an auditor
beside the seeded world, and MyEMS log-in headers."""

from __future__ import annotations

from test_api_support import PASSWORD, ApiHarness

from commands import registry as cmd

ADMIN, AUDITOR = "admin@flexledger.test", "auditor@flexledger.test"
SEED_USER_UUID = "dcdb67d1-6116-4987-916f-6fc6cf2bc0e4"  # the seed's example header value


def add_admin_and_auditor(harness: ApiHarness) -> None:
    ctx, alpha = harness.platform.commands, harness.world.accounts["Alpha"]
    for email, roles in ((ADMIN, ["admin"]), (AUDITOR, ["auditor"])):
        harness.world.users[email] = cmd.register_user(ctx, cmd.RegisterUser(
            email=email, password=PASSWORD, account_id=alpha, roles=roles, username=email.split("@")[0]))


def login(api: ApiHarness, email: str, password: str = PASSWORD) -> dict:
    response = api.client.put("/myems/users/login", json={"data": {"email": email, "password": password}})
    assert response.status_code == 200, response.text
    body = response.json()
    return {"User-UUID": body["uuid"], "Token": body["token"]}

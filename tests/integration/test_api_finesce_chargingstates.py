"""FINESCE chargingstates as device commands: a switch-on request becomes a start_charging command
the simulated EVSE acknowledges (``resp`` true); records, envelope, paging parameters and timeslots
compared with the seed's sample field by field; auth_token; another account's EVSE is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from device_support import wait_for_status
from ev_support import plug
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from commands import ev as evc
from commands import registry as cmd
from domain import device_commands as dc
from projections.device_commands import device_commands

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "finesce-cos-api.txt"


def _seed_collection() -> dict:
    if not SEED.exists():
        pytest.skip(f"the FINESCE seed is absent ({SEED})")
    text = SEED.read_text()
    start = text.index("{", text.index("URL: <https://finesce.tssg.org/api/v2/chargingstates>"))
    return json.JSONDecoder().raw_decode(text[start:])[0]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ApiHarness(tmp_path_factory.mktemp("finesce")) as harness:
        harness.world.assets["EVSE"] = cmd.register_asset(
            harness.platform.commands,
            cmd.RegisterAsset(
                account_id=harness.world.accounts["Alpha"],
                name="EVSE",
                asset_type="one-way_evse",
                attributes={"simulated": {"device_id": "evse-1"}},
            ),
        )
        assert harness.platform.wait_for(harness.head())
        yield harness


def _token(api, email=ALICE) -> str:
    return api.token(email)


def test_switch_on_request_is_a_command_and_resp_follows_the_ack(api):
    sample = _seed_collection()
    response = api.client.post(
        "/api/v2/chargingstates", params={"auth_token": _token(api), "evse_id": api.asset("EVSE"), "req_state": "true"}
    )
    assert response.status_code == 201, response.text
    record = response.json()["records"][0]
    assert (record["req"], record["req_state"], record["evse_id"]) == (True, True, api.asset("EVSE"))
    with api.platform.read_models.read_engine.connect() as conn:
        command_id = conn.execute(
            sa.select(device_commands.c.id).where(device_commands.c.position == record["id"])
        ).scalar_one()
    wait_for_status(api.platform.commands, command_id, dc.ACKNOWLEDGED)
    assert api.platform.wait_for(api.head())
    listing = api.client.get("/api/v2/chargingstates", params={"auth_token": _token(api)}).json()
    assert set(listing) == set(sample)
    got = listing["records"][0]
    seed_record = sample["records"][0]
    assert list(got) == list(seed_record)  # the same fields in the same order
    for field, value in seed_record.items():
        if field != "electricvehicle_id":  # unknown for a command: null
            assert type(got[field]) is type(value), field
    assert got["resp"] is True and got["is_charging"] is True
    assert got["timeslot_id"] % 900 == 0
    one = api.client.get(f"/api/v2/chargingstates/{got['id']}", params={"auth_token": _token(api)}).json()
    assert one["records"] == [got]
    slot = api.client.get(
        f"/api/v2/timeslots/{got['timeslot_id']}/chargingstates", params={"auth_token": _token(api)}
    ).json()
    assert got["id"] in [r["id"] for r in slot["records"]]


def test_auth_and_paging_parameters(api):
    assert api.client.get("/api/v2/chargingstates").status_code == 401
    for params in ({"limit": 100}, {"limit": 1001}, {"sort": "up"}, {"order_by": "colour"}):
        response = api.client.get("/api/v2/chargingstates", params={"auth_token": _token(api), **params})
        assert response.status_code == 422, params
    head = api.head()
    refused = api.client.post(
        "/api/v2/chargingstates",
        params={"auth_token": _token(api, BOB), "evse_id": api.asset("EVSE"), "req_state": "false"},
    )
    assert refused.status_code == 403 and api.head() == head
    assert api.client.get("/api/v2/chargingstates", params={"auth_token": _token(api, BOB)}).json()["records"] == []


def test_a_request_during_a_charge_session_names_its_vehicle(api):
    """The session open at the EVSE when the command is requested gives is_connected, the EV and
    the charging mode (the session started an hour before the request: no clock boundary matters)."""
    ctx, alpha = api.platform.commands, api.world.accounts["Alpha"]
    mode = evc.register_charging_mode(ctx, evc.RegisterChargingMode(account_id=alpha, name="3-phase", power_kw=11))
    evtype = evc.register_ev_type(
        ctx,
        evc.RegisterEvType(
            account_id=alpha,
            manufacturer="Nissan",
            brand="Leaf",
            battery_capacity_kwh=24,
            range_min_km=120,
            range_max_km=160,
            charging_mode_ids=[mode],
        ),
    )
    vehicle = evc.register_ev(ctx, evc.RegisterEv(account_id=alpha, ev_type_id=evtype))
    plug(ctx, api.asset("EVSE"), datetime.now(UTC) - timedelta(hours=1), ev_id=vehicle, charging_mode_id=mode)
    assert api.platform.wait_for(api.head())
    response = api.client.post(
        "/api/v2/chargingstates", params={"auth_token": _token(api), "evse_id": api.asset("EVSE"), "req_state": "false"}
    )
    assert response.status_code == 201, response.text
    record = response.json()["records"][0]
    assert (record["is_connected"], record["electricvehicle_id"], record["chargingmode_id"]) == (True, vehicle, mode)
    assert (record["req_state"], record["is_charging"], record["battery_full"]) == (False, False, False)


def test_auditors_read_every_account_and_write_nothing(api):
    """An auditor (of another account) reads FINESCE resources of every account, but a switch
    request is refused (403) and appends nothing."""
    ctx = api.platform.commands
    cmd.register_user(
        ctx,
        cmd.RegisterUser(
            email="audit@beta.test", password=PASSWORD, account_id=api.world.accounts["Beta"], roles=["auditor"]
        ),
    )
    assert api.platform.wait_for(api.head())
    token = _token(api, "audit@beta.test")
    listing = api.client.get("/api/v2/chargingstates", params={"auth_token": token})
    assert listing.status_code == 200 and listing.json()["totalrecords"] >= 1
    assert api.asset("EVSE") in [r["evse_id"] for r in listing.json()["records"]]  # Alpha's, read by Beta's auditor
    head = api.head()
    refused = api.client.post(
        "/api/v2/chargingstates", params={"auth_token": token, "evse_id": api.asset("EVSE"), "req_state": "true"}
    )
    assert refused.status_code == 403 and api.head() == head

"""Locations of private chargers are personal data, crypto-shredded by forgetting the account.

Over the seeded API harness (SQLite event store and read models; the same on PostgreSQL when
``FLEXLEDGER_TEST_POSTGRES_URL`` is set): alice (account Alpha) registers a private home
charger through the v3 API (``attributes.private: true`` with an address) and a private MyEMS
wind farm and microgrid; bob (Beta) a private charger; Alpha also has a plain (non-private) asset with a
location. The raw event store rows never hold the private coordinates or addresses; the v3,
Realto and MyEMS views read them back; an admin forgets Alpha; afterwards the coordinates
read ``null`` and the addresses ``"[erased]"`` in every view and in the history, ``audit
verify`` passes (whole and per stream), the registry projection rebuilds to identical tables,
and bob's charger and the plain asset are unchanged. The CLI test forgets an account with
``flexledger accounts forget`` and verifies with ``flexledger audit verify`` as subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from myems_support import SITE, account_ids, login
from personal_data_support import ADMIN, BACKENDS, sealed_harness
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness, seed_world

from commands import registry as cmd
from domain.audit_chain import verify_chain, verify_stream
from domain.personal_data import ERASED
from infra.bootstrap import build_platform
from infra.eventstore.sql import events_table
from infra.settings import Settings
from projections.registry import RegistryProjection, assets
from projections.replay import rebuild

HOME_ADDRESS, BOB_ADDRESS, GRID_ADDRESS = "17 Rozengracht, Utrecht", "3 Bobstraat, Delft", "8 Lindelaan, Zeist"
HOME = {"latitude": 52.091234, "longitude": 5.121987}
BOB_HOME = {"latitude": 51.998765, "longitude": 4.361234}
DEPOT = {"latitude": 52.370216, "longitude": 4.895168}
SHOP = {"latitude": 52.011111, "longitude": 4.711111}


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path: Path) -> Iterator[ApiHarness]:
    yield from sealed_harness(request.param, tmp_path)


def _new_asset(api: ApiHarness, email: str, name: str, location: dict, attributes: dict) -> int:
    body = {"name": name, "generic_asset_type_id": _type_id(api, "one-way_evse"), **location,
            "attributes": json.dumps(attributes)}  # fmt: skip
    created = api.client.post("/api/v3_0/assets", json=body, headers=api.auth(email))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _type_id(api: ApiHarness, name: str) -> int:
    types = api.client.get("/api/v3_0/assets/types", headers=api.auth()).json()
    return next(t["id"] for t in types if t["name"] == name)


def _v3(api: ApiHarness, asset_id: int, email: str = ADMIN) -> dict:
    item = api.client.get(f"/api/v3_0/assets/{asset_id}", headers=api.auth(email)).json()
    return {"latitude": item["latitude"], "longitude": item["longitude"], **json.loads(item["attributes"])}


def _realto(api: ApiHarness, asset_id: int) -> dict:
    listed = api.client.get("/api/v1/entities", headers=api.auth(ADMIN)).json()["data"]
    return next(e["data"]["location"] for e in listed if e["id"] == str(asset_id))


def _assets_table(api: ApiHarness) -> list:
    with api.platform.read_models.read_engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(assets).order_by(assets.c.id))]


def _raw_rows(api: ApiHarness) -> str:
    """Every stored event row as text, read with SQL from the event store's own table."""
    with api.platform.store.sealed.engine.connect() as conn:
        return "\n".join(str(tuple(row)) for row in conn.execute(sa.select(events_table)))


def _world(api: ApiHarness) -> dict[str, int]:
    home = _new_asset(api, ALICE, "Home charger", HOME, {"private": True, "address": HOME_ADDRESS})
    depot = _new_asset(api, ALICE, "Depot charger", DEPOT, {"address": "Depot 1, Amsterdam"})
    bob = _new_asset(api, BOB, "Bob's charger", BOB_HOME, {"private": True, "address": BOB_ADDRESS})
    headers = login(api)
    site = {**SITE, **account_ids(api, headers), "private": True, "address": HOME_ADDRESS, **HOME}
    farm = api.client.post("/myems/windfarms", content=json.dumps({"data": site}),
                           headers={**headers, "Content-Type": "text/plain"})  # fmt: skip
    assert farm.status_code == 201, farm.text
    household = {**site, "name": "Household", "address": GRID_ADDRESS, "architecture_type_id": 1, "owner_type_id": 1}
    grid = api.client.post("/myems/microgrids", json={"data": household}, headers=headers)
    assert grid.status_code == 201, grid.text
    moved = api.client.patch(f"/api/v3_0/assets/{home}", json={"latitude": 52.095678}, headers=api.auth(ALICE))
    assert moved.status_code == 200, moved.text
    shop = _new_asset(api, ALICE, "Shop charger", SHOP, {"private": True})
    cleared = {"attributes": json.dumps({"private": False})}  # the owner says: not personal any more
    assert api.client.patch(f"/api/v3_0/assets/{shop}", json=cleared, headers=api.auth(ALICE)).status_code == 200
    assert api.platform.wait_for(api.head())
    farm_id, grid_id = (int(r.headers["Location"].rsplit("/", 1)[1]) for r in (farm, grid))
    return {"home": home, "depot": depot, "bob": bob, "farm": farm_id, "shop": shop, "grid": grid_id}


def test_private_locations_are_sealed_then_erased_by_forgetting_the_account(api: ApiHarness) -> None:
    ids = _world(api)
    raw = _raw_rows(api)
    secrets = (HOME_ADDRESS, BOB_ADDRESS, GRID_ADDRESS, "52.091234", "5.121987", "52.095678", "51.998765", "4.361234")
    assert [secret for secret in secrets if secret in raw] == []
    new_attributes = {"attributes": json.dumps({"address": HOME_ADDRESS})}  # without the flag
    kept = api.client.patch(f"/api/v3_0/assets/{ids['home']}", json=new_attributes, headers=api.auth(ALICE))
    assert kept.status_code == 200 and json.loads(kept.json()["attributes"])["private"] is True  # the flag sticks
    assert HOME_ADDRESS not in _raw_rows(api)
    assert "52.370216" in raw and "Depot 1, Amsterdam" in raw  # a non-private asset's location stays plain
    assert _v3(api, ids["home"], ALICE) == {"latitude": 52.095678, "longitude": HOME["longitude"],
                                            "private": True, "address": HOME_ADDRESS}  # fmt: skip
    assert _realto(api, ids["bob"]) == {"address": BOB_ADDRESS, **BOB_HOME}
    farm = api.client.get(f"/myems/windfarms/{ids['farm']}", headers=login(api)).json()
    assert (farm["address"], farm["postal_code"], farm["latitude"]) == (HOME_ADDRESS, SITE["postal_code"], 52.091234)
    grid = api.client.get(f"/myems/microgrids/{ids['grid']}", headers=login(api)).json()
    assert (grid["address"], grid["longitude"]) == (GRID_ADDRESS, HOME["longitude"])

    alpha, beta = api.world.accounts["Alpha"], api.world.accounts["Beta"]
    refused = api.client.post(f"/api/v3_0/accounts/{alpha}/forget", headers=api.auth(ALICE))
    assert (refused.status_code, refused.json()["status"]) == (403, "INVALID_SENDER")
    unknown = api.client.post("/api/v3_0/accounts/99999/forget", headers=api.auth(ADMIN))
    assert (unknown.status_code, unknown.json()["status"]) == (404, "UNRECOGNIZED_ACCOUNT")
    done = api.client.post(f"/api/v3_0/accounts/{alpha}/forget", headers=api.auth(ADMIN))
    assert (done.status_code, done.json()) == (200, {"account_id": alpha, "forgotten": True, "private_assets": 3})
    again = api.client.post(f"/api/v3_0/accounts/{alpha}/forget", headers=api.auth(ADMIN))
    assert (again.status_code, again.json()["status"]) == (409, "ACCOUNT_FORGOTTEN")

    erased = {"latitude": None, "longitude": None, "private": True, "address": ERASED}
    assert _v3(api, ids["home"], ALICE) == erased
    assert _realto(api, ids["home"]) == {"address": ERASED, "latitude": None, "longitude": None}
    farm = api.client.get(f"/myems/windfarms/{ids['farm']}", headers=login(api)).json()
    assert (farm["address"], farm["postal_code"], farm["latitude"], farm["longitude"]) == (ERASED, ERASED, None, None)
    grid = api.client.get(f"/myems/microgrids/{ids['grid']}", headers=login(api)).json()
    assert (grid["address"], grid["postal_code"], grid["latitude"], grid["longitude"]) == (ERASED, ERASED, None, None)
    assert _v3(api, ids["bob"], BOB) == {**BOB_HOME, "private": True, "address": BOB_ADDRESS}  # other account
    assert _v3(api, ids["depot"]) == {**DEPOT, "address": "Depot 1, Amsterdam"}  # not private
    assert _v3(api, ids["shop"]) == {**SHOP, "private": False}  # cleared before: written in the clear then
    history = api.client.get(f"/api/audit/streams/asset-{ids['home']}/events", headers=api.auth(ADMIN)).json()
    latitudes = [e["data"].get("latitude", e["data"].get("changes", {}).get("latitude")) for e in history["events"]]
    assert [e["type"] for e in history["events"]] == ["AssetRegistered", "AssetChanged", "AssetChanged"]
    assert latitudes == [None, None, None] and ERASED in str(history["events"][2]["data"])

    verified = api.client.get("/api/audit/verify", headers=api.auth(ADMIN)).json()
    assert verified["ok"] and verified["complete"] and verified["broken"] is None
    for stream in (f"asset-{ids['home']}", f"account-{alpha}", f"asset-{ids['bob']}"):
        one = api.client.get("/api/audit/verify", params={"stream": stream}, headers=api.auth(ADMIN)).json()
        assert one["ok"] and one["stream"] == stream, one
    assert api.client.post(f"/api/v3_0/accounts/{beta}/forget", headers=api.auth(BOB)).status_code == 403

    before = _assets_table(api)
    platform = api.platform
    rebuild(platform.store, platform.read_models.write_engine, RegistryProjection(), platform.checkpoints)
    assert _assets_table(api) == before  # the replay reads the erased fields: the same tables
    assert verify_chain(platform.store).ok and verify_stream(platform.store, f"asset-{ids['farm']}").ok


def test_an_account_admin_forgets_their_own_account_only(api: ApiHarness) -> None:
    beta, alpha = api.world.accounts["Beta"], api.world.accounts["Alpha"]
    ctx = api.platform.commands
    cmd.register_user(ctx, cmd.RegisterUser(email="boss@beta.test", password=PASSWORD, account_id=beta,
                                            roles=["account-admin"]))  # fmt: skip
    charger = _new_asset(api, BOB, "Bob's charger", BOB_HOME, {"private": True})
    other = api.client.post(f"/api/v3_0/accounts/{alpha}/forget", headers=api.auth("boss@beta.test"))
    assert (other.status_code, other.json()["status"]) == (403, "INVALID_SENDER")
    own = api.client.post(f"/api/v3_0/accounts/{beta}/forget", headers=api.auth("boss@beta.test"))
    assert own.status_code == 200 and own.json()["private_assets"] == 1
    assert _v3(api, charger, BOB) == {"latitude": None, "longitude": None, "private": True}
    later = _new_asset(api, BOB, "Bob's new charger", BOB_HOME, {"private": True})
    assert _v3(api, later, BOB)["latitude"] is None  # a forgotten account never gets a key again


FLEXLEDGER = str(Path(sys.executable).parent / "flexledger")


def test_forget_an_account_with_the_cli_then_verify(tmp_path: Path) -> None:
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4))
    try:
        world = seed_world(platform.commands)
        alpha = world.accounts["Alpha"]
        charger = cmd.RegisterAsset(
            account_id=alpha, name="Home", asset_type="one-way_evse", attributes={"private": True}, **HOME
        )
        home = cmd.register_asset(platform.commands, charger)
    finally:
        platform.close()
    env = {**os.environ, "FLEXLEDGER_HOME": str(tmp_path), "FLEXLEDGER_BCRYPT_ROUNDS": "4"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([FLEXLEDGER, *args], env=env, capture_output=True, text=True, timeout=180)

    done = cli("accounts", "forget", "--account-id", str(alpha), "--yes")
    assert done.returncode == 0 and "forgotten" in done.stdout, done.stdout + done.stderr
    again = cli("accounts", "forget", "--account-id", str(alpha), "--yes")
    assert again.returncode == 1 and "ACCOUNT_FORGOTTEN" in again.stdout, again.stdout + again.stderr
    verified = cli("audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4))
    try:
        data = platform.store.read_stream(f"asset-{home}")[0].data
        assert (data["latitude"], data["longitude"], data["attributes"]) == (None, None, {"private": True})
    finally:
        platform.close()


def test_an_export_carries_the_account_key_only_with_keys(tmp_path: Path) -> None:
    """``--with-keys`` moves the account's key with its sealed locations; without it they read erased."""
    from domain.audit_export import ExportFilter
    from infra.audit_files import export_to, import_from

    source = build_platform(Settings(home=tmp_path / "source", bcrypt_rounds=4))
    try:
        world = seed_world(source.commands)
        charger = cmd.RegisterAsset(account_id=world.accounts["Beta"], name="Home", asset_type="one-way_evse",
                                    attributes={"private": True, "address": BOB_ADDRESS}, **BOB_HOME)  # fmt: skip
        home = cmd.register_asset(source.commands, charger)
        for with_keys in (True, False):
            export_to(source, tmp_path / f"keys-{with_keys}.jsonl", ExportFilter(), with_keys=with_keys)
    finally:
        source.close()
    assert BOB_ADDRESS not in (tmp_path / "keys-True.jsonl").read_text()
    for with_keys, expected in ((True, {"address": BOB_ADDRESS, **BOB_HOME}), (False, {"address": ERASED})):
        target = build_platform(Settings(home=tmp_path / f"target-{with_keys}", bcrypt_rounds=4))
        try:
            import_from(target, tmp_path / f"keys-{with_keys}.jsonl")
            data = target.store.read_stream(f"asset-{home}")[0].data
            seen = {"latitude": data["latitude"], "longitude": data["longitude"], **data["attributes"]}
            assert seen == {"latitude": None, "longitude": None, "private": True, **expected}
            assert verify_chain(target.store).ok
        finally:
            target.close()

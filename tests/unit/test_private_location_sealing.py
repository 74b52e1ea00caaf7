"""Locations of private assets are personal data (:mod:`domain.private_locations`): sealed with
the owning account's key through the sealing store, over the in-memory event store and keys."""

from __future__ import annotations

from test_personal_data_sealing import MemoryKeys

from domain.events import NewEvent
from domain.personal_data import ERASED, is_sealed, seal_data, subject_of
from domain.private_locations import erased_location, is_private
from domain.registry import AssetRegistered, decide_asset_change
from infra.eventstore.memory import MemoryEventStore
from infra.personal_data_store import SealingEventStore
from infra.personal_keys import PersonalDataCipher

HOME = {"private": True, "address": "1 Home Lane", "myems": {"address": "1 Home Lane", "postal_code": "1234 AB"}}


def asset(asset_id: int, account_id: int, attributes: dict, latitude: float | None = 52.1) -> dict:
    return {"asset_id": asset_id, "account_id": account_id, "name": f"charger {asset_id}",
            "asset_type": "one-way_evse", "latitude": latitude, "longitude": 5.2, "attributes": attributes}  # fmt: skip


def test_the_rule_is_the_private_attribute_set_to_true() -> None:
    assert is_private({"private": True}) and not is_private({"private": "yes"}) and not is_private({})
    assert not is_private(None)
    assert subject_of("AssetRegistered", asset(1, 3, HOME)) == "account-3"
    assert subject_of("AssetRegistered", asset(1, 3, {"address": "Depot"})) is None
    assert subject_of("AssetChanged", {"asset_id": 1, "changes": {"latitude": 1.0}}) is None
    assert subject_of("AssetChanged", {"asset_id": 1, "changes": {}, "private_account_id": 3}) == "account-3"


def test_a_change_of_a_private_asset_names_its_account_and_a_plain_one_stays_as_before() -> None:
    current = AssetRegistered(**asset(1, 3, HOME))
    change = decide_asset_change(current, {"latitude": 10.0}, lambda _: None)
    assert change.private_account_id == 3 and change.to_data()["private_account_id"] == 3
    kept = decide_asset_change(current, {"attributes": {"address": "Depot"}}, lambda _: None)
    assert kept.changes == {"attributes": {"address": "Depot", "private": True}} and kept.private_account_id == 3
    unflag = decide_asset_change(current, {"attributes": {"private": False}, "latitude": 1.5}, lambda _: None)
    assert unflag.private_account_id is None and "private_account_id" not in unflag.to_data()
    assert unflag.changes == {"latitude": 1.5, "longitude": 5.2, "attributes": {"private": False}}  # now plain
    plain = AssetRegistered(**asset(2, 3, {}))
    flag = decide_asset_change(plain, {"attributes": {"private": True}, "longitude": 4.0}, lambda _: None)
    assert flag.private_account_id == 3  # private after the change: its new location is sealed


def test_private_locations_are_stored_sealed_and_read_erased_once_the_account_is_forgotten() -> None:
    keys = MemoryKeys()
    store = SealingEventStore(MemoryEventStore(), PersonalDataCipher(keys))
    store.append("asset-1", [NewEvent(type="AssetRegistered", data=asset(1, 3, HOME))])
    store.append("asset-2", [NewEvent(type="AssetRegistered", data=asset(2, 4, HOME))])
    store.append("asset-3", [NewEvent(type="AssetRegistered", data=asset(3, 3, {"address": "Depot"}))])
    change = {"asset_id": 1, "changes": {"latitude": 52.5, "name": "home"}, "private_account_id": 3}
    store.append("asset-1", [NewEvent(type="AssetChanged", data=change)])
    raw = [e.data for e in store.sealed.read_all(0, 10)]
    assert all(is_sealed(raw[0][k]) for k in ("latitude", "longitude")) and "Home Lane" not in str(raw[0])
    assert is_sealed(raw[0]["attributes"]["myems"]["postal_code"]) and raw[0]["attributes"]["private"] is True
    assert raw[2] == asset(3, 3, {"address": "Depot"})  # not private: plain
    assert is_sealed(raw[3]["changes"]["latitude"]) and raw[3]["changes"]["name"] == "home"
    opened = [e.data for e in store.read_all(0, 10)]
    assert opened[0] == asset(1, 3, HOME) and opened[3] == change

    keys.forget("account-3")
    after = [e.data for e in store.read_all(0, 10)]
    assert (after[0]["latitude"], after[0]["longitude"], after[3]["changes"]["latitude"]) == (None, None, None)
    assert after[0]["attributes"] == {"private": True, "address": ERASED,
                                      "myems": {"address": ERASED, "postal_code": ERASED}}  # fmt: skip
    assert after[1] == asset(2, 4, HOME) and after[2] == asset(3, 3, {"address": "Depot"})  # others unaffected
    assert AssetRegistered(**after[0]).latitude is None  # still decodes
    store.append("asset-5", [NewEvent(type="AssetRegistered", data=asset(5, 3, HOME))])
    assert store.read_stream("asset-5")[0].data["latitude"] is None  # no new key for a forgotten account


def test_erased_location_matches_what_forgotten_events_read_as() -> None:
    assert erased_location(HOME) == {"latitude": None, "longitude": None, "attributes": {
        "private": True, "address": ERASED, "myems": {"address": ERASED, "postal_code": ERASED}}}  # fmt: skip
    assert erased_location({"private": True})["attributes"] == {"private": True}
    assert seal_data("AssetRegistered", asset(1, 3, HOME, latitude=None), lambda s, p, v: "x")["latitude"] is None

"""Sealing personal fields (:mod:`domain.personal_data`) through the sealing store decorator
(:mod:`infra.personal_data_store`) over the in-memory event store and an in-memory key store."""

from __future__ import annotations

from collections.abc import Iterable

from domain.events import NewEvent
from domain.personal_data import ERASED, is_sealed, seal_data, stored_form, unseal_data
from infra.eventstore.memory import MemoryEventStore
from infra.personal_data_store import SealingEventStore
from infra.personal_keys import PersonalDataCipher


class MemoryKeys:
    """The key-store port in a dict (a forgotten subject maps to ``None``)."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}

    def key_for(self, subject: str, create: bool = False) -> bytes | None:
        if subject not in self.keys and create:
            import os

            self.keys[subject] = os.urandom(32)
        return self.keys.get(subject)

    def keys_for(self, subjects: Iterable[str]) -> dict[str, bytes]:
        return {s: k for s in subjects if (k := self.keys.get(s)) is not None}

    def forget(self, subject: str) -> bool:
        had = self.keys.get(subject) is not None
        self.keys[subject] = None
        return had

    def import_key(self, subject: str, key: bytes) -> None:
        self.keys.setdefault(subject, key)

    def is_forgotten(self, subject: str) -> bool:
        return subject in self.keys and self.keys[subject] is None

    def create_tables(self) -> None:
        pass


def registered(user_id: int, email: str) -> NewEvent:
    data = {"user_id": user_id, "account_id": 1, "email": email, "username": email.split("@")[0], "roles": []}
    return NewEvent(type="UserRegistered", schema_version=2, data=data)


def test_only_personal_fields_are_sealed_and_they_open_again() -> None:
    keys = MemoryKeys()
    cipher = PersonalDataCipher(keys)
    data = {"user_id": 7, "changes": {"username": "ann", "timezone": "UTC"}}
    sealed = seal_data("UserChanged", data, cipher.seal)
    assert is_sealed(sealed["changes"]["username"]) and sealed["changes"]["timezone"] == "UTC"
    assert data["changes"]["username"] == "ann"  # the input is not changed
    assert seal_data("UserChanged", sealed, cipher.seal) == sealed  # sealed fields are not sealed twice
    opened = unseal_data("UserChanged", sealed, lambda s, p, v: cipher.open(keys.key_for(s), s, p, v))
    assert opened == data
    assert seal_data("AssetRegistered", {"name": "x"}, cipher.seal) == {"name": "x"}


def test_a_field_cannot_be_moved_to_another_user_or_field() -> None:
    keys = MemoryKeys()
    cipher = PersonalDataCipher(keys)
    sealed = cipher.seal("user-1", "email", "ann@example.com")
    keys.key_for("user-2", create=True)
    assert cipher.open(keys.key_for("user-1"), "user-1", "username", sealed) == ERASED
    assert cipher.open(keys.key_for("user-2"), "user-2", "email", sealed) == ERASED
    assert cipher.open(keys.key_for("user-1"), "user-1", "email", sealed) == "ann@example.com"


def test_the_store_keeps_ciphertext_and_a_forgotten_user_reads_erased() -> None:
    keys = MemoryKeys()
    store = SealingEventStore(MemoryEventStore(), PersonalDataCipher(keys))
    store.append("user-1", [registered(1, "ann@example.com")])
    store.append("user-2", [registered(2, "bob@example.com")])
    raw = stored_form(store).read_stream("user-1")[0]
    assert is_sealed(raw.data["email"]) and "ann" not in raw.model_dump_json()
    assert store.read_stream("user-1")[0].data["email"] == "ann@example.com"
    keys.forget("user-1")
    assert [e.data["email"] for e in store.read_all(0, 10)] == [ERASED, "bob@example.com"]
    assert store.get_event(raw.event_id).data["username"] == ERASED
    assert stored_form(store).read_stream("user-1")[0] == raw  # the stored event is unchanged
    store.append("user-1", [NewEvent(type="UserChanged", data={"user_id": 1, "changes": {"username": "x"}})])
    assert store.read_stream("user-1")[1].data["changes"]["username"] == ERASED  # no new key for a forgotten user

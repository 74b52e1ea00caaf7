"""The personal-data key store port: one data key per data subject, kept outside the event store.

Destroying a subject's key is crypto-shredding (:mod:`domain.personal_data`). Adapter:
:mod:`infra.personal_keys` (a table beside the SQL event store's log, created by
``infra.bootstrap.prepare_storage``). Semantics:

* :meth:`PersonalDataKeys.key_for` returns the subject's key, creating it when ``create`` (two
  callers racing get the same key); a forgotten subject has no key, ever again (``None``).
* :meth:`PersonalDataKeys.forget` destroys the key (idempotent; True when a key was destroyed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class PersonalDataKeys(Protocol):
    def key_for(self, subject: str, create: bool = False) -> bytes | None: ...

    def keys_for(self, subjects: Iterable[str]) -> dict[str, bytes]:
        """The existing keys of these subjects (forgotten and unknown ones absent)."""
        ...

    def forget(self, subject: str) -> bool: ...

    def import_key(self, subject: str, key: bytes) -> None:
        """Store a key exported from another platform (an audit import); a forgotten subject stays forgotten."""
        ...

    def is_forgotten(self, subject: str) -> bool: ...

    def create_tables(self) -> None: ...

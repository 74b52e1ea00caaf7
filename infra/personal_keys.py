"""Personal-data keys (port: :mod:`domain.ports.personal_keys`) and the cipher that uses them.

:class:`SqlPersonalKeyStore`: table ``personal_data_keys``, outside the event log: in the SQL
event store's database (``infra.bootstrap.build_personal_keys``; with KurrentDB in the
read-model database), so dropping and rebuilding read models loses no key. Columns: ``subject``
-> a random 256-bit key, ``created_at``, ``forgotten_at``. Forgetting sets the key to NULL and
keeps the row, so a forgotten subject never gets a new key. Without this table, personal fields
read as ``[erased]``; a database backup holds the keys it held when taken (forgetting does not
reach into old backups: expire them).

:class:`PersonalDataCipher`: AES-256-GCM (``cryptography``) with a random 96-bit nonce per
value and ``"<subject>|<field path>"`` as associated data; values are JSON-encoded first, so
their type survives. :meth:`PersonalDataCipher.pseudonym` is an HMAC-SHA256 of a value under
the platform's pseudonym key (subject ``platform-pseudonyms``): it names the e-mail uniqueness
streams without storing the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.personal_data import ERASED, SEALED_PREFIX
from domain.ports.personal_keys import PersonalDataKeys

metadata = sa.MetaData()
personal_data_keys = sa.Table(
    "personal_data_keys",
    metadata,
    sa.Column("subject", sa.String(128), primary_key=True),
    sa.Column("data_key", sa.LargeBinary(32)),  # NULL once forgotten
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("forgotten_at", sa.String(40)),
)
PSEUDONYM_SUBJECT = "platform-pseudonyms"
NONCE_BYTES = 12


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SqlPersonalKeyStore:
    """One data key per subject in ``personal_data_keys`` (tables: :meth:`create_tables`)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def key_for(self, subject: str, create: bool = False) -> bytes | None:
        row = self._row(subject)
        if row is not None or not create:
            return row.data_key if row is not None else None
        try:
            with self.engine.begin() as conn:
                conn.execute(personal_data_keys.insert().values(subject=subject, data_key=os.urandom(32),
                                                                 created_at=_now()))  # fmt: skip
        except sa.exc.IntegrityError:
            pass  # another writer created it first: use theirs
        row = self._row(subject)
        return row.data_key if row is not None else None

    def keys_for(self, subjects: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted(set(subjects))
        if not wanted:
            return {}
        query = sa.select(personal_data_keys.c.subject, personal_data_keys.c.data_key).where(
            personal_data_keys.c.subject.in_(wanted), personal_data_keys.c.data_key.is_not(None)
        )
        with self.engine.connect() as conn:
            return {row.subject: row.data_key for row in conn.execute(query)}

    def forget(self, subject: str) -> bool:
        """Destroy the key (keep a tombstone row): the subject's sealed fields become unreadable."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                personal_data_keys.update()
                .where(personal_data_keys.c.subject == subject, personal_data_keys.c.data_key.is_not(None))
                .values(data_key=None, forgotten_at=_now())
            ).rowcount
            if not changed and self._row(subject, conn) is None:
                conn.execute(personal_data_keys.insert().values(subject=subject, data_key=None, created_at=_now(),
                                                                 forgotten_at=_now()))  # fmt: skip
        return bool(changed)

    def import_key(self, subject: str, key: bytes) -> None:
        if self._row(subject) is not None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(personal_data_keys.insert().values(subject=subject, data_key=key, created_at=_now()))
        except sa.exc.IntegrityError:
            pass

    def is_forgotten(self, subject: str) -> bool:
        row = self._row(subject)
        return row is not None and row.data_key is None

    def _row(self, subject: str, conn: sa.Connection | None = None):
        query = sa.select(personal_data_keys).where(personal_data_keys.c.subject == subject)
        if conn is not None:
            return conn.execute(query).first()
        with self.engine.connect() as own:
            return own.execute(query).first()


def _aad(subject: str, path: str) -> bytes:
    return f"{subject}|{path}".encode()


class PersonalDataCipher:
    """Seals and opens personal fields with the subjects' keys (:mod:`domain.personal_data`)."""

    def __init__(self, keys: PersonalDataKeys):
        self.keys = keys
        self._pseudonym_key: bytes | None = None  # a platform key, never forgotten: loaded once

    def seal(self, subject: str, path: str, value, key: bytes | None = None) -> str:
        key = key or self.keys.key_for(subject, create=True)
        if key is None:  # the subject was forgotten: nothing new is readable either
            return ERASED
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, orjson.dumps(value), _aad(subject, path))
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    @staticmethod
    def open(key: bytes | None, subject: str, path: str, sealed: str):
        """The value, or :data:`ERASED` when the key is gone or the ciphertext does not open."""
        if key is None:
            return ERASED
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(SEALED_PREFIX))
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(subject, path))
        except (InvalidTag, ValueError):
            return ERASED
        return orjson.loads(plain)

    def pseudonym(self, value: str) -> str:
        """HMAC-SHA256 of ``value`` under the platform's pseudonym key (hex, 64 characters)."""
        if self._pseudonym_key is None:
            self._pseudonym_key = self.keys.key_for(PSEUDONYM_SUBJECT, create=True)
        if self._pseudonym_key is None:
            raise RuntimeError(f"the platform key {PSEUDONYM_SUBJECT!r} was destroyed")
        return hmac.new(self._pseudonym_key, value.encode(), hashlib.sha256).hexdigest()

"""Signed checkpoints of the event history: the head hash at a position, signed with Ed25519.

The platform key is loaded by :func:`infra.audit_keys.signing_key`; its public key is
published in every checkpoint (``GET /api/audit/checkpoint``, ``flexledger audit checkpoint``).
A checkpoint is JSON (exportable as is)::

    {"position": N, "head_hash": "<hex>", "created_at": "<ISO 8601>", "algorithm": "Ed25519",
     "public_key": "<base64 raw>", "signature": "<base64 over the canonical payload>"}

The payload signed is the canonical JSON (sorted keys, no spaces) of position, head_hash and
created_at. :func:`verify_checkpoint` checks the signature and that the chain recomputed from
the store reaches ``head_hash`` at ``position``: a history edited, shortened or reordered
before that point fails, even if the attacker rewrote every hash after it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.audit_chain import verify_chain
from domain.personal_data import stored_form
from domain.ports.event_store import EventStore


def _payload(position: int, head_hash: str, created_at: str) -> bytes:
    body = {"position": position, "head_hash": head_hash, "created_at": created_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def make_checkpoint(store: EventStore, key: Ed25519PrivateKey, now: datetime | None = None) -> dict:
    """A signed checkpoint of the store's head (the stored hash of its newest event)."""
    store = stored_form(store)
    head = store.head_position()
    last = store.read_all(head - 1, 1) if head else []
    head_hash = last[0].hash if last and last[0].global_position == head else None
    if head and head_hash is None:  # positions not consecutive (or no chain): find the head by scanning
        report = verify_chain(store)
        head, head_hash = report.head_position, report.head_hash
    return sign_checkpoint(key, head, head_hash or "0" * 64, now)


def sign_checkpoint(key: Ed25519PrivateKey, position: int, head_hash: str, now: datetime | None = None) -> dict:
    """A checkpoint stating that the chain reaches ``head_hash`` at ``position``, signed now."""
    created_at = (now or datetime.now(UTC)).isoformat()
    signature = key.sign(_payload(position, head_hash, created_at))
    return {
        "position": position,
        "head_hash": head_hash,
        "created_at": created_at,
        "algorithm": "Ed25519",
        "public_key": public_key_b64(key),
        "signature": base64.b64encode(signature).decode(),
    }


def checkpoint_signature_ok(checkpoint: dict) -> bool:
    """Whether the checkpoint's signature matches its embedded public key."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint["public_key"]))
        payload = _payload(int(checkpoint["position"]), str(checkpoint["head_hash"]), str(checkpoint["created_at"]))
        public.verify(base64.b64decode(checkpoint["signature"]), payload)
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_checkpoint(store: EventStore, checkpoint: dict) -> tuple[bool, str]:
    """(ok, reason): the signature holds and the recomputed chain reaches the checkpoint's hash."""
    if not checkpoint_signature_ok(checkpoint):
        return False, "invalid checkpoint signature"
    position = int(checkpoint["position"])
    report = verify_chain(_Bounded(stored_form(store), position), limit=10**9)
    if not report.ok:
        return False, f"chain broken at position {report.broken['position']}: {report.broken['reason']}"
    if report.head_position != position:
        return False, f"the history ends at position {report.head_position}, before {position}: it was shortened"
    if report.head_hash != checkpoint["head_hash"]:
        return False, f"the chain at position {position} differs from the checkpoint"
    return True, f"history up to position {position} is unchanged"


class _Bounded:
    """A read-only view of a store that ends at ``position``."""

    def __init__(self, store: EventStore, position: int):
        self.store, self.position = store, position

    def read_all(self, after_position: int = 0, limit: int = 1000, types=None, stream_prefix=None):
        batch = self.store.read_all(after_position, limit)
        return [e for e in batch if e.global_position <= self.position]

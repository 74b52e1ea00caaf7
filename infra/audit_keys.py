"""The platform's Ed25519 key for signed audit checkpoints (:mod:`domain.audit_checkpoints`).

``FLEXLEDGER_AUDIT_SIGNING_KEY`` (a PEM file) or ``<home>/audit_signing_key.pem``, created on
first use with mode 0600. Back it up: checkpoints signed with a lost key can still be checked
against their embedded public key, but new ones will carry a different key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FILE = "audit_signing_key.pem"


def signing_key(home: Path) -> Ed25519PrivateKey:
    """The platform's checkpoint key (``FLEXLEDGER_AUDIT_SIGNING_KEY`` or ``<home>/audit_signing_key.pem``)."""
    path = Path(os.environ.get("FLEXLEDGER_AUDIT_SIGNING_KEY") or home / KEY_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)

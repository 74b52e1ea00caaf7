"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>`` with the webhook's secret.

Headers of a delivery (all ASCII):

* ``X-Flexledger-Timestamp``: seconds since the Unix epoch when the attempt was signed;
* ``X-Flexledger-Signature``: ``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``;
* ``X-Flexledger-Event-Id``: the event id (UUID): de-duplicate on it (delivery is at least once);
* ``X-Flexledger-Delivery``: the delivery id (the same across retries of one event).

A receiver recomputes the HMAC over the raw body and rejects a timestamp older than a few
minutes (replay) — :func:`verify` does both.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Flexledger-Signature"
TIMESTAMP_HEADER = "X-Flexledger-Timestamp"
EVENT_ID_HEADER = "X-Flexledger-Event-Id"
DELIVERY_HEADER = "X-Flexledger-Delivery"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str | int, body: bytes, signature: str, now_s: float, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when ``signature`` is valid for ``body`` and ``timestamp`` is within ``tolerance_s`` of ``now_s``."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now_s - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)

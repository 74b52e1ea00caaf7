"""Read-your-writes for the HTTP API.

After a command appended events, a route may wait (bounded by
``FLEXLEDGER_CONSISTENCY_TIMEOUT_S``) until the named processor has applied everything up to
the store's head, so that a client's next GET sees its own write. Registry writes (assets,
sensors) always wait, because their responses are read back from the read model; waiting
after sensor data posts is turned off with ``FLEXLEDGER_CONSISTENT_WRITES=false`` (then
readings are eventually consistent).
"""

from __future__ import annotations

from infra.bootstrap import Platform

REGISTRY = "projection.registry"
READINGS = "projection.readings"


def wait_until_projected(platform: Platform, processor: str, position: int | None = None) -> bool:
    """True when ``processor`` has applied ``position`` (default: the current head)."""
    if platform.runner is None:
        return False
    if processor != REGISTRY and not platform.settings.consistent_writes:
        return False
    target = platform.store.head_position() if position is None else position
    return platform.wait_for(target, [processor])

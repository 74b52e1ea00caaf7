"""Which asset a device is: look-ups by gateway address on the registry read model."""

from __future__ import annotations

import sqlalchemy as sa

from domain.device_commands import device_address
from projections.registry import assets


def asset_by_device(conn: sa.Connection, gateway: str, address: str) -> dict | None:
    """The asset reached through ``gateway`` at ``address`` (e.g. ``ocpp``, ``CP-1``), or ``None``.

    Scans the assets' attributes (JSON, not indexed): fine for the number of devices of a site
    platform; an index table is the next step when that grows.
    """
    for row in conn.execute(sa.select(assets)).mappings():
        found = device_address(row["id"], row["attributes"] or {})
        if found is not None and (found["gateway"], found["address"]) == (gateway, address):
            return dict(row)
    return None

"""Read model of the EV domain's reference objects (FINESCE's resources): regions, charging modes,
EV types, EVs, EVSEs and algorithm weights, with ``created_at``/``updated_at`` from the events'
recording times (Unix microseconds). Power in kW, energy in kWh, ranges in km.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import ev
from domain.beliefs import to_epoch_us
from domain.events import RecordedEvent

metadata = sa.MetaData()


def _table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.Integer, nullable=False, index=True),
        *columns,
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


regions = _table("ev_regions", sa.Column("name", sa.String(255), nullable=False),
                 sa.Column("code", sa.String(64), nullable=False), sa.Column("country", sa.String(255), nullable=False))
charging_modes = _table("ev_charging_modes", sa.Column("name", sa.String(255), nullable=False),
                        sa.Column("power_kw", sa.Float, nullable=False), sa.Column("description", sa.Text))
ev_types = _table("ev_types", sa.Column("manufacturer", sa.String(255), nullable=False),
                  sa.Column("brand", sa.String(255), nullable=False),
                  sa.Column("battery_capacity_kwh", sa.Float, nullable=False),
                  sa.Column("range_min_km", sa.Integer, nullable=False),
                  sa.Column("range_max_km", sa.Integer, nullable=False))
vehicles = _table("ev_vehicles", sa.Column("evtype_id", sa.Integer, nullable=False, index=True),
                  sa.Column("battery_capacity_kwh", sa.Float))
evses = _table("ev_evses", *(sa.Column(n, sa.String(255), nullable=False)
                             for n in ("make", "model", "hardware_version", "firmware_version")),
               sa.Column("region_id", sa.Integer, index=True), sa.Column("max_power_kw", sa.Float),
               sa.Column("phases", sa.Integer, nullable=False))
algoweights = _table("ev_algoweights", sa.Column("region_id", sa.Integer, nullable=False, index=True),
                     sa.Column("timeslot_id", sa.BigInteger, nullable=False, index=True),
                     *(sa.Column(n, sa.Float, nullable=False) for n in ("renewables", "interconnect", "specific")))
mode_links = sa.Table(
    "ev_charging_mode_links", metadata,
    sa.Column("owner", sa.String(8), primary_key=True),  # "evtype" or "evse"
    sa.Column("owner_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("charging_mode_id", sa.Integer, primary_key=True, autoincrement=False),
)

_ID_FIELDS = {
    "RegionRegistered": (regions, "region_id"),
    "ChargingModeRegistered": (charging_modes, "charging_mode_id"),
    "EvTypeRegistered": (ev_types, "ev_type_id"),
    "EvRegistered": (vehicles, "ev_id"),
    "EvseRegistered": (evses, "asset_id"),
    "AlgoWeightsSet": (algoweights, "algoweight_id"),
}
_RENAMES = {"ev_type_id": "evtype_id"}


def _insert(conn: Connection, recorded: RecordedEvent) -> None:
    table, id_field = _ID_FIELDS[recorded.type]
    event = recorded.decode()
    data = event.model_dump()
    values = {_RENAMES.get(k, k): v for k, v in data.items() if _RENAMES.get(k, k) in table.c and k != id_field}
    at = to_epoch_us(recorded.metadata.recorded_at)
    row_id = data[id_field]
    conn.execute(table.delete().where(table.c.id == row_id))  # replay-safe
    conn.execute(table.insert().values(id=row_id, created_us=at, updated_us=at, **values))
    owner = {"EvTypeRegistered": "evtype", "EvseRegistered": "evse"}.get(recorded.type)
    if owner:
        _links(conn, owner, row_id, data["charging_mode_ids"])


def _links(conn: Connection, owner: str, owner_id: int, mode_ids: list[int]) -> None:
    conn.execute(mode_links.delete().where(mode_links.c.owner == owner, mode_links.c.owner_id == owner_id))
    if mode_ids:
        conn.execute(mode_links.insert(), [{"owner": owner, "owner_id": owner_id, "charging_mode_id": m}
                                           for m in sorted(set(mode_ids))])


def _evse_changed(conn: Connection, recorded: RecordedEvent) -> None:
    event: ev.EvseChanged = recorded.decode()
    changes = {k: v for k, v in event.changes.items() if k in evses.c}
    conn.execute(evses.update().where(evses.c.id == event.asset_id).values(
        updated_us=to_epoch_us(recorded.metadata.recorded_at), **changes))
    if "charging_mode_ids" in event.changes:
        _links(conn, "evse", event.asset_id, event.changes["charging_mode_ids"])


class EvRegistryProjection:
    """Regions, charging modes, EV types, EVs, EVSEs and algorithm weights."""

    name = "ev_registry"
    event_types = frozenset({*_ID_FIELDS, "EvseChanged"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.type == "EvseChanged":
                _evse_changed(conn, recorded)
            else:
                _insert(conn, recorded)

"""FINESCE COS API (``/api/v2``): tokens and the EV domain's resources in the seed's shapes.

Served: ``POST /tokens``, ``POST /tokens/refresh``; ``GET`` lists and records of
``chargingmodes``, ``evtypes``, ``electricvehicles``, ``evses``, ``regions``, ``algoweights``,
``evevseconnections`` (charge sessions; id = the plug-in event's global position),
``evevseconnectionstates``, and the sub-resources named in the seed (see the README). Paging,
envelope, decimals and scoping: :mod:`api.finesce`. Connection energies are the charge-session
projection's (kWh, consumption positive); ``energy_kwh_current_min``/``previous_min`` are the
session's average power over one minute (the read model keeps no per-minute values).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from fastapi import APIRouter, Query

from api.auth import TokenService
from api.deps import ReadConn, Services, get_current_user
from api.errors import ApiError
from api.finesce import FinesceUser, PagingDep, Resource, dec, register_collection, ts_s, ts_us
from api.login import password_login
from projections import ev_registry as t
from projections.charge_sessions import charge_sessions as cs
from projections.credentials import credentials_of

router = APIRouter(prefix="/api/v2", tags=["FINESCE COS"])


def _cols(table: sa.Table, *names: str) -> dict[str, sa.ColumnElement]:
    return {"id": table.c.id, **{n: table.c[n] for n in names}, "created_at": table.c.created_us,
            "updated_at": table.c.updated_us}


def _times(row: dict) -> dict:
    return {"created_at": ts_us(row["created_at"]), "updated_at": ts_us(row["updated_at"])}


CHARGING_MODES = Resource("chargingmodes", t.charging_modes, _cols(t.charging_modes, "name", "power_kw"),
                          t.charging_modes.c.account_id,
                          lambda r: {"id": r["id"], "name": r["name"], "power_kw": dec(r["power_kw"]), **_times(r)})
EV_TYPES = Resource(
    "evtypes", t.ev_types,
    _cols(t.ev_types, "brand", "manufacturer", "battery_capacity_kwh", "range_min_km", "range_max_km"),
    t.ev_types.c.account_id,
    lambda r: {"id": r["id"], "brand": r["brand"], "manufacturer": r["manufacturer"],
               "battery_capacity_kwh": dec(r["battery_capacity_kwh"]), "range_min_km": r["range_min_km"],
               "range_max_km": r["range_max_km"], **_times(r)})
VEHICLES = Resource("electricvehicles", t.vehicles, _cols(t.vehicles, "evtype_id"), t.vehicles.c.account_id,
                    lambda r: {"id": r["id"], "evtype_id": r["evtype_id"], **_times(r)})
_EVSE_FIELDS = ("make", "model", "hardware_version", "firmware_version", "region_id")
EVSES = Resource("evses", t.evses, _cols(t.evses, *_EVSE_FIELDS), t.evses.c.account_id,
                 lambda r: {"id": r["id"], **{n: r[n] for n in _EVSE_FIELDS}, **_times(r)})
REGIONS = Resource("regions", t.regions, _cols(t.regions, "name", "code", "country"), t.regions.c.account_id,
                   lambda r: {"id": r["id"], "name": r["name"], "code": r["code"], "country": r["country"],
                              **_times(r)})
ALGO_WEIGHTS = Resource(
    "algoweights", t.algoweights,
    _cols(t.algoweights, "renewables", "interconnect", "specific", "timeslot_id", "region_id"),
    t.algoweights.c.account_id,
    lambda r: {"id": r["id"], "renewables": dec(r["renewables"]), "interconnect": dec(r["interconnect"]),
               "specific": dec(r["specific"]), "timeslot_id": r["timeslot_id"], "region_id": r["region_id"],
               **_times(r)})

CONNECTION_STATES = [
    (1, "not_connected"), (2, "is_connected"), (3, "is_charging"), (4, "battery_full"), (5, "grid_is_connected"),
    (6, "grid_is_charging"),
]
"""FINESCE's connection states (ids 1, 2, 5, 6 named in the seed; 3 and 4 from its data model)."""
STATE_IDS = {"not_connected": 1, "connected": 2, "suspended": 2, "finished": 2, "charging": 3, "battery_full": 4,
             "grid_connected": 5, "grid_charging": 6}
STATES_SINCE_US = 1_735_689_600_000_000  # 2025-01-01: fixed reference data of this platform


def state_record(state_id: int) -> dict:
    name = dict(CONNECTION_STATES)[state_id]
    return {"id": state_id, "name": name, "code": state_id, "created_at": ts_us(STATES_SINCE_US),
            "updated_at": ts_us(STATES_SINCE_US)}


_earlier = cs.alias("earlier")
_RUNNING_TOTAL = (
    sa.select(sa.func.coalesce(sa.func.sum(_earlier.c.energy_kwh), 0.0))
    .where(_earlier.c.evse_asset_id == cs.c.evse_asset_id, _earlier.c.start_s <= cs.c.start_s)
    .scalar_subquery().label("running_total_kwh")
)


def _connection(row: dict) -> dict:
    end_s = row["end_s"] if row["end_s"] is not None else int(time.time())
    duration_s = max(end_s - row["start"], 0)
    per_minute = row["energy_kwh"] / duration_s * 60 if duration_s else 0.0
    return {
        "id": row["id"], "start": ts_s(row["start"]), "energy_kwh_current_min": dec(per_minute),
        "energy_kwh_previous_min": dec(per_minute), "duration_s": duration_s,
        "connection_total_kwh": dec(row["energy_kwh"]), "running_total_kwh": dec(row["running_total_kwh"]),
        "chargingmode_id": row["chargingmode_id"], "evevseconnectionstate_id": STATE_IDS.get(row["state"], 2),
        "evse_id": row["evse_id"], "electricvehicle_id": row["electricvehicle_id"],
        "created_at": ts_s(row["created_at"]), "updated_at": ts_s(row["updated_at"]),
    }


CONNECTIONS = Resource(
    "evevseconnections", cs,
    {"id": cs.c.position, "start": cs.c.start_s, "duration_s": cs.c.end_s, "connection_total_kwh": cs.c.energy_kwh,
     "chargingmode_id": cs.c.charging_mode_id, "evse_id": cs.c.evse_asset_id, "electricvehicle_id": cs.c.ev_id,
     "created_at": cs.c.created_s, "updated_at": cs.c.updated_s},
    cs.c.account_id, _connection, extra=[cs.c.end_s, cs.c.energy_kwh, cs.c.state, _RUNNING_TOTAL],
)


def _token_body(tokens: TokenService, roles: list[str] | tuple[str, ...], token: str) -> dict:
    expires = time.time() + tokens.max_age_s
    role = "admin" if "admin" in roles else (roles[0] if roles else "user")
    return {
        "token_expires_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires)),
        "role": role,
        "auth_token": token,
        "refresh_token": token,
    }


@router.post("/tokens")
def create_token(
    services: Services, email: str = Query(max_length=255), password: str = Query(max_length=255)
) -> dict:
    """An auth token for an e-mail and password (FINESCE passes both as URL parameters)."""
    login = password_login(services, services.tokens, email, password)
    return _token_body(services.tokens, login.user["roles"], login.token)


@router.post("/tokens/refresh")
def refresh_token(services: Services, conn: ReadConn, refresh_token: str = Query(max_length=2000)) -> dict:
    """A fresh auth token for a refresh token that is still valid (refresh tokens live as long as auth
    tokens, and end with a password change or deactivation like them)."""
    user = get_current_user(services, refresh_token)
    credentials = credentials_of(conn, user.id)
    token = services.tokens.issue(user.id, credentials["token_epoch"] if credentials else 0)
    return _token_body(services.tokens, user.roles, token)


for _path, _resource in (("chargingmodes", CHARGING_MODES), ("evtypes", EV_TYPES), ("electricvehicles", VEHICLES),
                         ("evses", EVSES), ("regions", REGIONS), ("algoweights", ALGO_WEIGHTS),
                         ("evevseconnections", CONNECTIONS)):
    register_collection(router, _path, _resource)


@router.get("/evevseconnectionstates")
def list_connection_states(user: FinesceUser, page: PagingDep) -> dict:
    """The fixed list of EV-EVSE connection states (not connected, connected, charging, ...), paged."""
    if page.order_by not in ("id", "code", "name"):
        raise ApiError(422, "INVALID_ORDER_BY", "order evevseconnectionstates by id, code or name", "order_by")
    records = sorted((state_record(i) for i, _ in CONNECTION_STATES), key=lambda r: r[page.order_by],
                     reverse=page.sort == "desc")
    return {"totalrecords": len(records), "records": records[page.offset : page.offset + page.limit]}


@router.get("/evevseconnectionstates/{record_id}")
def get_connection_state(record_id: int, user: FinesceUser) -> dict:
    """One EV-EVSE connection state by id."""
    if record_id not in dict(CONNECTION_STATES):
        raise ApiError(404, "NOT_FOUND", f"no evevseconnectionstate with id {record_id}", "id")
    return {"totalrecords": len(CONNECTION_STATES), "records": [state_record(record_id)]}



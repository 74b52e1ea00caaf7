"""FINESCE COS sub-resources (``/api/v2/<resource>/{id}/<related>``), in the seed's paths.

The parent must exist (404) and be the caller's account's (403, admins and auditors: any);
the related records come in the collection envelope with the same paging. The seed writes two
paths differently from their resource names (``/evseconnections/{id}/evseconnectionstate`` and
``/evseconnections/{id}/chargingmode``); they are served as written.
"""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from fastapi import APIRouter

from api.deps import ReadConn
from api.finesce import FinesceUser, PagingDep, collection, one, register_related
from api.routers import finesce_cos as f
from projections import ev_registry as t

router = APIRouter(prefix="/api/v2", tags=["FINESCE COS"])
_related = partial(register_related, router)
links = t.mode_links


def _modes_of(owner: str, owner_id: int):
    return f.CHARGING_MODES.columns["id"].in_(
        sa.select(links.c.charging_mode_id).where(links.c.owner == owner, links.c.owner_id == owner_id))


def _owners_of(owner: str, mode_id: int):
    return sa.select(links.c.owner_id).where(links.c.owner == owner, links.c.charging_mode_id == mode_id)


_related("/chargingmodes/{record_id}/evses", f.CHARGING_MODES, f.EVSES,
         lambda i: f.EVSES.columns["id"].in_(_owners_of("evse", i)))
_related("/chargingmodes/{record_id}/evtypes", f.CHARGING_MODES, f.EV_TYPES,
         lambda i: f.EV_TYPES.columns["id"].in_(_owners_of("evtype", i)))
_related("/evtypes/{record_id}/electricvehicles", f.EV_TYPES, f.VEHICLES, lambda i: t.vehicles.c.evtype_id == i)
_related("/evtypes/{record_id}/chargingmodes", f.EV_TYPES, f.CHARGING_MODES, lambda i: _modes_of("evtype", i))
_related("/electricvehicles/{record_id}/evevseconnections", f.VEHICLES, f.CONNECTIONS,
         lambda i: f.CONNECTIONS.columns["electricvehicle_id"] == i)
_related("/evses/{record_id}/evevseconnections", f.EVSES, f.CONNECTIONS,
         lambda i: f.CONNECTIONS.columns["evse_id"] == i)
_related("/evses/{record_id}/chargingmodes", f.EVSES, f.CHARGING_MODES, lambda i: _modes_of("evse", i))
_related("/regions/{record_id}/evses", f.REGIONS, f.EVSES, lambda i: t.evses.c.region_id == i)
_related("/regions/{record_id}/algoweights", f.REGIONS, f.ALGO_WEIGHTS, lambda i: t.algoweights.c.region_id == i)


@router.get("/evseconnections/{record_id}/evseconnectionstate")
def connection_state(record_id: int, user: FinesceUser, conn: ReadConn) -> dict:
    """The connection state of one of the caller's EV-EVSE connections."""
    connection = one(conn, user, f.CONNECTIONS, record_id)["records"][0]
    state_id = connection["evevseconnectionstate_id"]
    return {"totalrecords": len(f.CONNECTION_STATES), "records": [f.state_record(state_id)]}


@router.get("/evseconnections/{record_id}/chargingmode")
def connection_mode(record_id: int, user: FinesceUser, conn: ReadConn, page: PagingDep) -> dict:
    """The charging mode of one of the caller's EV-EVSE connections (empty when none was chosen)."""
    connection = one(conn, user, f.CONNECTIONS, record_id)["records"][0]
    mode_id = connection["chargingmode_id"]
    return collection(conn, user, f.CHARGING_MODES, page, [f.CHARGING_MODES.columns["id"] == (mode_id or -1)])

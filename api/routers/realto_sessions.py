"""Realto Charge Sessions API: ``GET /api/v1/entities/{entityId}/charge-sessions``.

An entity is a device (an asset) of the caller's account, its id the asset id (as in the
Realto commands API). ``Authorization: Bearer <token>`` (a FlexMeasures-style raw token works
too). Query: ``from`` / ``to`` (timezone-aware; sessions *starting* in ``[from, to)``),
``pageSize`` (1..1000, default 100), ``continuationToken`` (from ``meta`` or ``links.next``).

Response, exactly the seed's: ``{"data": [record], "links": {"next"}, "meta":
{"continuationToken", "pageSize"}}``; a record is ``{"data": {"charge": {"averagePower",
"end", "start", "total": {"t1".."t4", "total", "unit"}}, "end", "location", "locationMatches",
"range", "start"}, "entityId", "id", "created"}``. Energy in kWh (consumption positive),
average power in kW, ``charge.start``/``charge.end`` the state of charge in kWh and
``range`` in km when known (``value: null`` otherwise). ``locationMatches`` names the charge
site the EVSE belongs to. Only the caller's account's entities (admins and auditors: all):
401 without a valid token, 403 for another account's entity, 404 for an unknown one.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from api.deps import ReadConn, User, visible_asset
from api.errors import ApiError
from domain.beliefs import to_epoch_s
from projections import registry_query as rq
from projections.charge_sessions import iso_z
from projections.charge_sessions_query import list_sessions

router = APIRouter(prefix="/api/v1", tags=["charge sessions (Realto)"])
MAX_PAGE_SIZE = 1000


def encode_token(start_s: int, session_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([start_s, session_id]).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    try:
        start_s, session_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(start_s), str(session_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ApiError(422, "INVALID_CONTINUATION_TOKEN", "malformed continuation token", "continuationToken") from exc


def _quantity(unit: str, value: float | None) -> dict:
    return {"unit": unit, "value": value}


def _location(entity: dict) -> dict:
    address = (entity.get("attributes") or {}).get("address")
    return {"address": address, "latitude": entity.get("latitude"), "longitude": entity.get("longitude")}


def _matches(conn: ReadConn, entity: dict) -> list[dict]:
    parent = entity.get("parent_asset_id")
    site = rq.asset_by_id(conn, parent) if parent is not None else None
    if site is None:
        return []
    return [{"accuracy": 1.0, "location": {"id": str(site["id"]), "label": site["name"]}}]


def session_record(row: dict, location: dict, matches: list[dict]) -> dict:
    """A charge-sessions row in the seed's record shape."""
    hours = None if row["end_s"] is None else (row["end_s"] - row["start_s"]) / 3600
    average_kw = row["energy_kwh"] / hours if hours else None
    total = {p: row[f"energy_{p}_kwh"] for p in ("t1", "t2", "t3", "t4")}
    return {
        "data": {
            "charge": {
                "averagePower": _quantity("kW", average_kw),
                "end": _quantity("kWh", row["soc_end_kwh"]),
                "start": _quantity("kWh", row["soc_start_kwh"]),
                "total": {**total, "total": row["energy_kwh"], "unit": "kWh"},
            },
            "end": iso_z(row["end_s"]),
            "location": location,
            "locationMatches": matches,
            "range": {"start": _quantity("km", row["range_start_km"]), "end": _quantity("km", row["range_end_km"])},
            "start": iso_z(row["start_s"]),
        },
        "entityId": str(row["evse_asset_id"]),
        "id": row["id"],
        "created": iso_z(row["created_s"]),
    }


def realto_entity(conn: ReadConn, user, entity_id: str) -> dict:
    """The asset behind a Realto entity id (404 unknown, 403 another account's)."""
    if not entity_id.isdigit():
        raise ApiError(404, "UNRECOGNIZED_ASSET", f"no entity {entity_id}", "entityId")
    return visible_asset(conn, user, int(entity_id))


@router.get("/entities/{entityId}/charge-sessions")
def list_charge_sessions(
    request: Request,
    entityId: str,  # noqa: N803 - the seed's path parameter name
    user: User,
    conn: ReadConn,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    pageSize: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,  # noqa: N803
    continuationToken: Annotated[str | None, Query(max_length=300)] = None,  # noqa: N803
) -> dict:
    """A page of the entity's charge sessions (Realto's Charging Records), oldest first."""
    entity = realto_entity(conn, user, entityId)
    after = decode_token(continuationToken) if continuationToken else None
    rows = list_sessions(conn, entity["id"], None if from_ is None else to_epoch_s(from_),
                         None if to is None else to_epoch_s(to), after, pageSize + 1)
    token = encode_token(rows[pageSize - 1]["start_s"], rows[pageSize - 1]["id"]) if len(rows) > pageSize else None
    location, matches = _location(entity), _matches(conn, entity)
    next_link = str(request.url.include_query_params(continuationToken=token)) if token else None
    return {
        "data": [session_record(r, location, matches) for r in rows[:pageSize]],
        "links": {"next": next_link},
        "meta": {"continuationToken": token, "pageSize": pageSize},
    }

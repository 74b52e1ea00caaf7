"""FlexMeasures API v2.0 connections: ``GET /api/v2_0/getConnection`` and address resolution.

A connection is an asset with a power sensor, addressed as ``ea1.<date>.<domain>:<account id>:<asset id>``
(see :mod:`api.entity_address`). **Which sensor holds a connection's meter data:** among the
asset's sensors with a unit of power (W, kW, MW ...), the one named ``power`` (case-insensitive;
the lowest id if several), otherwise the only one. An asset with no power sensor, or several
without one named ``power``, is not a connection (400 ``UNRECOGNIZED_ASSET``).

Signs (USEF, docs 14.4.9): consumption positive, production negative. Pure consumers
(asset types ``one-way_evse``, ``heat_pump``) only accept values >= 0 (``POWER_VALUE_TOO_SMALL``)
and pure producers (``solar``, ``wind``) only values <= 0 (``POWER_VALUE_TOO_BIG``); an
``is_pure_consumer`` / ``is_pure_producer`` attribute on the sensor or asset overrides the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse

from api.auth import CurrentUser
from api.authorization import AUTH_HEADER
from api.deps import services_of
from api.entity_address import EntityAddressError, build_connection, parse_connection
from api.routers.v2_0_common import authenticate, check_type, query_form, rejected, require_service_access, v2_response
from api.schemas import V2Response, v2_query
from projections import registry_query as rq

router = APIRouter(tags=["v2.0"])

PURE_CONSUMER_TYPES = frozenset({"one-way_evse", "heat_pump"})
PURE_PRODUCER_TYPES = frozenset({"solar", "wind"})
UNRECOGNIZED_GROUP = "One or more connections in your request were not found in your account."
INVALID_DOMAIN = (
    "Connections should be identified using the EA1 addressing scheme recommended by USEF, "
    "for example 'ea1.2026-11.io.flexledger:<owner_id>:<asset_id>'."
)


@dataclass(frozen=True)
class Connection:
    """A resolved connection: the address as sent, its asset row and its power sensor row."""

    address: str
    asset: dict
    sensor: dict


power_sensor = rq.device_power_sensor
"""The sensor holding an asset's meter data (rule in the module docstring), or ``None``."""


def resolve(conn: sa.Connection, user: CurrentUser, address: object, field: str, write: bool) -> Connection:
    """The connection at ``address`` if the user may use it (400 otherwise, see module docstring)."""
    try:
        parsed = parse_connection(address)
    except EntityAddressError as exc:
        raise rejected("INVALID_DOMAIN", f"{INVALID_DOMAIN} {exc}", field) from exc
    asset = rq.asset_by_id(conn, parsed.asset_id)
    allowed = asset is not None and (
        user.is_admin or asset["account_id"] == user.account_id or (user.can_read_all and not write)
    )
    if not allowed or (parsed.owner_id is not None and parsed.owner_id != asset["account_id"]):
        raise rejected("UNRECOGNIZED_CONNECTION_GROUP", f"{UNRECOGNIZED_GROUP} Unknown: {address}", field)
    sensor = power_sensor(conn, asset)
    if sensor is None:
        raise rejected(
            "UNRECOGNIZED_ASSET",
            f"Cannot identify asset. Asset {asset['id']} ({asset['name']}) has no single power sensor "
            "(a sensor named 'power', or its only sensor with a unit of power).",
            field,
        )
    return Connection(str(address), asset, sensor)


def _flag(connection: Connection, name: str, default: bool) -> bool:
    for attributes in (connection.sensor["attributes"], connection.asset["attributes"]):
        if isinstance(attributes, dict) and isinstance(attributes.get(name), bool):
            return attributes[name]
    return default


def check_signs(connection: Connection, values: list[float], field: str) -> None:
    """Pure consumers take no negative values, pure producers no positive ones (docs 14.4.9)."""
    asset_type = connection.asset["asset_type"]
    if _flag(connection, "is_pure_consumer", asset_type in PURE_CONSUMER_TYPES) and any(v < 0 for v in values):
        raise rejected(
            "POWER_VALUE_TOO_SMALL",
            f"One or more power values are too small. Connection {connection.address} is registered as a pure "
            "consumer and can only receive non-negative values.",
            field,
        )
    if _flag(connection, "is_pure_producer", asset_type in PURE_PRODUCER_TYPES) and any(v > 0 for v in values):
        raise rejected(
            "POWER_VALUE_TOO_BIG",
            f"One or more power values are too big. Connection {connection.address} is registered as a pure "
            "producer and can only receive non-positive values.",
            field,
        )


def list_connections(conn: sa.Connection, user: CurrentUser) -> list[dict]:
    """Assets with a power sensor the user may read, newest first."""
    account_id = None if user.can_read_all else user.account_id
    return [a for a in rq.list_assets(conn, account_id, descending=True) if power_sensor(conn, a) is not None]


@router.get("/getConnection", response_model=V2Response, openapi_extra=v2_query("type"))
def get_connection(
    request: Request, authorization: Annotated[str | None, Security(AUTH_HEADER)] = None
) -> JSONResponse:
    """The user's connections as entity addresses (newest first), with their names.

    Example response: ``{"type": "GetConnectionResponse", "connections": ["ea1.2026-11.io.flexledger:3:4"],
    "names": ["CS 4"]}``. Admins and auditors see every account's connections.
    """
    services = services_of(request)

    def handle() -> dict:
        user = authenticate(services, authorization)
        check_type(query_form(request.query_params), "GetConnectionRequest", required=False)
        with services.read_connection() as conn:
            require_service_access(conn, user, "getConnection")
            assets = list_connections(conn, user)
        return {
            "connections": [build_connection(a["account_id"], a["id"]) for a in assets],
            "names": [a["name"] for a in assets],
        }

    return v2_response("GetConnectionResponse", handle)

"""FlexMeasures API v2.0 (compatibility): ``/api/v2_0/getService``, ``getConnection``,
``postMeterData`` and ``getMeterData``, as documented in FlexMeasures 0.4 (sections 14 and 16.2).

Meter data goes through the same path as v3 (:mod:`api.series`): beliefs appended by
``commands.readings`` (source = the user's e-mail), read from the readings projection.
Connections are assets addressed with USEF EA1 entity addresses (:mod:`api.entity_address`);
their data lives in the asset's power sensor (rule in :mod:`api.routers.v2_0_connections`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.routers import v2_0_connections, v2_0_meter_data, v2_0_prognosis
from api.routers.v2_0_common import PROCESSED, SERVICES, invalid_method, rejected, v2_response
from api.schemas import V2Response

VERSION = "2.0"
router = APIRouter(prefix="/api/v2_0", tags=["v2.0"])
router.include_router(v2_0_connections.router)
router.include_router(v2_0_meter_data.router)
router.include_router(v2_0_prognosis.router)


@router.get("/getService", response_model=V2Response)
def get_service(request: Request, access: str | None = None) -> JSONResponse:
    """Public: the services of this version, optionally only those open to the USEF role ``access``.

    Example response: ``{"type": "GetServiceResponse", "version": "2.0", "services": [{"name":
    "getMeterData", "access": ["Aggregator", ...], "description": "Request meter reading"}, ...],
    "status": "PROCESSED", "message": "Request has been processed."}``. An ``access`` role without
    services is 400 ``INVALID_ROLE``.
    """

    def handle() -> dict:
        services = SERVICES if access is None else [s for s in SERVICES if access in s["access"]]
        if not services:
            raise rejected("INVALID_ROLE", f"No known services for specified role {access}.", "access")
        return {"version": VERSION, "services": services, **PROCESSED}

    return v2_response("GetServiceResponse", handle)


_METHODS = {
    "getService": ("GetServiceResponse", ["POST", "PUT", "PATCH", "DELETE"]),
    "getConnection": ("GetConnectionResponse", ["POST", "PUT", "PATCH", "DELETE"]),
    "getMeterData": ("GetMeterDataResponse", ["POST", "PUT", "PATCH", "DELETE"]),
    "postMeterData": ("PostMeterDataResponse", ["GET", "PUT", "PATCH", "DELETE"]),
    "getPrognosis": ("GetPrognosisResponse", ["POST", "PUT", "PATCH", "DELETE"]),
    "postPrognosis": ("PostPrognosisResponse", ["GET", "PUT", "PATCH", "DELETE"]),
}


def _method_not_allowed(response_type: str):
    def handler(request: Request) -> JSONResponse:
        return invalid_method(response_type, request.method)

    return handler


for _service, (_response_type, _methods) in _METHODS.items():
    router.add_api_route(f"/{_service}", _method_not_allowed(_response_type), methods=_methods, include_in_schema=False)

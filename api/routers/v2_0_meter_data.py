"""FlexMeasures API v2.0 meter data: ``POST /api/v2_0/postMeterData``, ``GET /api/v2_0/getMeterData``.

Messages follow the FlexMeasures 0.4 documentation (sections 14.4 and 16.2). Power values are
positive for consumption and negative for production (USEF); they are posted in any unit of
power (``MW`` as in the docs, ``kW``, ``W`` ...) and stored in the connection's power sensor
unit (see :mod:`api.routers.v2_0_connections` for which sensor that is).

POST: one or more groups of connections with values; ``start``, ``duration`` and ``unit`` stated
outside ``groups`` are inherited by each group (docs 14.4.3). The resolution is
``duration / len(values)`` and must be a multiple of the sensor's (values are upsampled).
Beliefs: ``horizon`` (zero or negative: meter data is observed after the fact) and/or
``prior`` (at or after the end of the period), else the arrival time. **Every group is
validated before anything is appended**: a request that is refused stores nothing.

GET: ``connection`` (or ``connections``, a JSON list or repeated), ``start``, ``duration``,
``unit``, and optionally ``resolution`` (a multiple of the sensor's: power is averaged),
``horizon``/``prior`` (belief filters, docs 14.4.5) and ``source`` (user ids, USEF role names or
data-source names; the requesting user's own data is always included, docs 14.3). Values are
``null`` where nothing is known. Connections with identical values are grouped in the answer.
"""

from __future__ import annotations

from fastapi import APIRouter, Security

from api.authorization import AUTH_HEADER
from api.routers.v2_0_timeseries import BeliefTiming, get_handler, post_handler
from api.schemas import V2_SERIES_PROPERTIES, V2_SERIES_QUERY, V2_SERIES_REQUIRED, V2Response, v2_body, v2_query

router = APIRouter(tags=["v2.0"])

METER_DATA_TIMING = BeliefTiming(
    forecast=False,
    horizon_message="Meter data must have a zero or negative horizon to indicate observations after the fact.",
    prior_message="Meter data can only be observed after the fact.",
)

router.add_api_route(
    "/postMeterData",
    post_handler("postMeterData", "PostMeterDataRequest", "PostMeterDataResponse", METER_DATA_TIMING),
    description="Send meter readings (USEF PostMeterDataRequest): power per connection, consumption positive.",
    methods=["POST"],
    dependencies=[Security(AUTH_HEADER)],
    response_model=V2Response,
    openapi_extra=v2_body("PostMeterDataRequest", V2_SERIES_PROPERTIES, V2_SERIES_REQUIRED),
    summary="Upload meter data (PostMeterDataRequest); answers PostMeterDataResponse with PROCESSED.",
)
router.add_api_route(
    "/getMeterData",
    get_handler("getMeterData", "GetMeterDataRequest", "GetMeterDataResponse", default_horizon=None),
    description="Request meter readings (USEF GetMeterDataRequest): the latest beliefs per connection.",
    methods=["GET"],
    dependencies=[Security(AUTH_HEADER)],
    response_model=V2Response,
    openapi_extra=v2_query(*V2_SERIES_QUERY, required=("type", "connection", "start", "duration", "unit")),
    summary="Download meter data (GetMeterDataRequest in the query string); answers GetMeterDataResponse.",
)

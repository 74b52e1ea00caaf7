"""FlexMeasures API v2.0 prognoses: ``GET /api/v2_0/getPrognosis``, ``POST /api/v2_0/postPrognosis``.

Messages as in the FlexMeasures 0.4 documentation (sections 14.4, 15.5 and 16.2). Prognoses are
power forecasts of a connection (its power sensor, see :mod:`api.routers.v2_0_connections`),
positive for consumption and negative for production (USEF), in any unit of power.

GET: ``connection`` (or ``connections``), ``start``, ``duration``, ``unit`` and optionally
``resolution`` (a multiple of the sensor's; power is averaged), ``horizon`` (only beliefs
formed at least this long before the end of each event: a rolling horizon; default ``PT0H``,
i.e. anything formed before the fact), ``prior`` (only beliefs formed before this time) and
``source`` (user ids, USEF role names or data-source names such as ``forecaster:auto``). The
answer holds, per event, the latest such belief: flexledger's own forecasts (source
``forecaster:auto`` / ``forecaster:trigger``) and prognoses posted by users alike; ``null``
where there is none.

POST: groups of connections with values, as ``postMeterData``; ``horizon`` (zero or positive:
a prognosis is made before the fact) and/or ``prior`` (before the end of the period), else the
arrival time. The prognoses are stored as beliefs of the posting user beside flexledger's own
forecasts. Every group is validated before anything is appended.

Access: every USEF role (FlexMeasures' listing: "Request load planning", "Send prediction");
admins always; auditors may read (``api.routers.v2_0_common.SERVICES``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Security

from api.authorization import AUTH_HEADER
from api.routers.v2_0_timeseries import BeliefTiming, get_handler, post_handler
from api.schemas import V2_SERIES_PROPERTIES, V2_SERIES_QUERY, V2_SERIES_REQUIRED, V2Response, v2_body, v2_query

router = APIRouter(tags=["v2.0"])

PROGNOSIS_TIMING = BeliefTiming(
    forecast=True,
    horizon_message="Prognoses must have a zero or positive horizon: they are made before the fact.",
    prior_message="Prognoses can only be made before the end of the period.",
)

router.add_api_route(
    "/getPrognosis",
    get_handler("getPrognosis", "GetPrognosisRequest", "GetPrognosisResponse", default_horizon=timedelta(0)),
    description="Request a prognosis (USEF GetPrognosisRequest): beliefs formed at least ``horizon``"
    " before each event ended (default PT0H).",
    methods=["GET"],
    dependencies=[Security(AUTH_HEADER)],
    response_model=V2Response,
    openapi_extra=v2_query(*V2_SERIES_QUERY, required=("type", "connection", "start", "duration", "unit")),
    summary="Download prognoses (GetPrognosisRequest in the query string); answers GetPrognosisResponse.",
)
router.add_api_route(
    "/postPrognosis",
    post_handler("postPrognosis", "PostPrognosisRequest", "PostPrognosisResponse", PROGNOSIS_TIMING),
    description="Send a prognosis of power per connection (USEF PostPrognosisRequest), consumption positive.",
    methods=["POST"],
    dependencies=[Security(AUTH_HEADER)],
    response_model=V2Response,
    openapi_extra=v2_body("PostPrognosisRequest", V2_SERIES_PROPERTIES, V2_SERIES_REQUIRED),
    summary="Upload prognoses (PostPrognosisRequest); answers PostPrognosisResponse with PROCESSED.",
)

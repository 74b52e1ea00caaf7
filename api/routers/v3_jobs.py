"""``GET /api/v3_0/jobs/{uuid}``: status of a schedule or forecast job (FlexMeasures >= 0.33).

200 with ``status`` FINISHED and ``result``; 202 while QUEUED/STARTED; 422 when FAILED with
the reason in ``message``; 404 for an unknown job.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ReadConn, User, require_account_access
from api.errors import ApiError
from projections import registry_query as rq
from projections.jobs import job_by_id

router = APIRouter(prefix="/api/v3_0", tags=["jobs"])
STATUS_CODES = {"FINISHED": 200, "FAILED": 422}


def job_account(conn: ReadConn, job: dict) -> int | None:
    if job["sensor_id"] is not None:
        sensor = rq.sensor_by_id(conn, job["sensor_id"])
        return sensor["account_id"] if sensor else None
    if job["asset_id"] is not None:
        asset = rq.asset_by_id(conn, job["asset_id"])
        return asset["account_id"] if asset else None
    return None


@router.get("/jobs/{job_id}")
def get_job(job_id: str, user: User, conn: ReadConn) -> JSONResponse:
    job = job_by_id(conn, job_id)
    if job is None:
        raise ApiError(404, "UNKNOWN_JOB", f"no job {job_id}", "uuid")
    account = job_account(conn, job)
    if account is not None:
        require_account_access(user, account)
    body = {"status": job["status"], "message": job["message"], "result": job["result"], "job_id": job_id}
    if "scheduling_result" in job["result"]:  # current FlexMeasures servers put it at the top level
        body["scheduling_result"] = job["result"]["scheduling_result"]
    return JSONResponse(body, status_code=STATUS_CODES.get(job["status"], 202))

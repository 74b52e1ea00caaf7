"""``GET /api/v3_0/jobs/{uuid}``: status of a schedule or forecast job (FlexMeasures >= 0.33).

200 with ``status`` FINISHED and ``result``; 202 while QUEUED/STARTED; 422 when FAILED with
the reason in ``message``; 404 for an unknown job, and for a job of another account.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.authorization import job_visible
from api.deps import ReadConn, User
from api.errors import ApiError
from api.schemas import JobOut
from projections.jobs import job_by_id

router = APIRouter(prefix="/api/v3_0", tags=["jobs"])
STATUS_CODES = {"FINISHED": 200, "FAILED": 422}


@router.get("/jobs/{job_id}", response_model=JobOut, responses={202: {"model": JobOut}})
def get_job(job_id: str, user: User, conn: ReadConn) -> JSONResponse:
    """A scheduling or forecasting job: 202 while queued or running, 200 with its result,
    422 with the reason when it failed."""
    job = job_by_id(conn, job_id)
    if job is None or not job_visible(conn, user, job["sensor_id"], job["asset_id"]):
        raise ApiError(404, "UNKNOWN_JOB", f"no job {job_id}", "uuid")  # another account's job: as unknown
    body = {"status": job["status"], "message": job["message"], "result": job["result"], "job_id": job_id}
    if "scheduling_result" in job["result"]:  # current FlexMeasures servers put it at the top level
        body["scheduling_result"] = job["result"]["scheduling_result"]
    return JSONResponse(body, status_code=STATUS_CODES.get(job["status"], 202))

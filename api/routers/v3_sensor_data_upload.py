"""v3 ``POST /sensors/{id}/data/upload``: readings from CSV files (FlexMeasures' file upload).

The request is ``multipart/form-data`` as ``flexmeasures-client``'s ``post_sensor_data(file_path=...)``
sends it: one or more files in ``uploaded-files`` (CSV: ``datetime,value`` per line, format in
:mod:`domain.readings_csv`), ``belief-time-measured-instantly`` (``True``: each value was known
at its event's end; default: at the upload) and optionally ``unit`` (default: the sensor's).

Idempotent like ``flexledger import readings``: a file's SHA-256 is part of its events' ids, so
uploading the same file again stores nothing; the answer says how many readings were new.
A file that cannot be read is a 422 naming the file and line, and nothing of the request is
stored (every file is parsed before the first append).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.consistency import READINGS
from api.deps import Commands, Consistency, ReadConn, User, visible_sensor
from api.errors import ApiError
from api.validation import Id
from commands.import_readings import import_rows
from commands.readings import sensor_data_stream
from domain.readings_csv import ReadingsCsvError, parse_readings_csv

router = APIRouter(prefix="/api/v3_0", tags=["sensor data"])

MAX_FILES = 20


@router.post("/sensors/{sensor_id}/data/upload")
async def upload_sensor_data(
    sensor_id: Id,
    user: User,
    commands: Commands,
    conn: ReadConn,
    consistency: Consistency,
    uploaded_files: Annotated[list[UploadFile], File(alias="uploaded-files")],
    belief_time_measured_instantly: Annotated[bool, Form(alias="belief-time-measured-instantly")] = False,
    unit: Annotated[str | None, Form()] = None,
) -> dict:
    """Upload CSV files of readings (``datetime,value``) to a sensor; answers how many were new."""
    visible_sensor(conn, user, sensor_id, write=True)
    if len(uploaded_files) > MAX_FILES:
        raise ApiError(422, "TOO_MANY_FILES", f"at most {MAX_FILES} files per upload", "uploaded-files")
    parsed = [await _parse(upload) for upload in uploaded_files]
    horizon = timedelta(0) if belief_time_measured_instantly else None
    new = already = 0
    for rows, digest in parsed:
        result = await run_in_threadpool(
            import_rows, commands, sensor_id, rows, digest, unit, user.email, None, timedelta(0), horizon
        )
        new, already = new + result.new, already + result.already_stored
    head = consistency.store.head_position()
    await consistency.wait_until_projected_async(READINGS, head, sensor_data_stream(sensor_id))
    return {"message": "Request has been processed.", "status": "PROCESSED", "new": new, "already_stored": already}


async def _parse(upload: UploadFile) -> tuple[list, str]:
    raw = await upload.read()
    try:
        rows = parse_readings_csv(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ApiError(422, "INVALID_FILE", f"{upload.filename}: not UTF-8 text", "uploaded-files") from exc
    except ReadingsCsvError as exc:
        raise ApiError(422, "INVALID_FILE", f"{upload.filename}: {exc}", "uploaded-files") from exc
    if not rows:
        raise ApiError(422, "INVALID_FILE", f"{upload.filename}: no readings", "uploaded-files")
    return rows, hashlib.sha256(raw).hexdigest()

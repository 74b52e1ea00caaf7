"""MyEMS ``offlinemeterfiles`` under ``/myems`` (issue 14): daily energy of offline meters uploaded
as CSV or xlsx (layout: :mod:`domain.myems_offline_files`; xlsx read with openpyxl).

* ``POST /myems/offlinemeterfiles``: the file as ``multipart/form-data`` field ``file`` (as MyEMS
  reads it; the seed's ``application/TBD`` is a placeholder), ``.xlsx`` (or a zip signature) read
  as a workbook, else CSV -> 201 + ``Location``; the readings are stored at once (idempotent:
  the same file again stores nothing twice). A file that cannot be read, or that names a meter
  that is not an offline meter of the account (by name or id), is refused with 400/404 naming
  the place; nothing is kept.
* ``GET /myems/offlinemeterfiles``, ``GET .../{id}`` -> ``{"id", "file_name", "uuid",
  "upload_datetime", "status"}`` (``upload_datetime`` UTC ``YYYY-MM-DDTHH:MM:SS``; ``status``
  ``new``, ``done`` or ``error``; the file's bytes are not sent back)
* ``GET .../{id}/restore``: process the stored file again (e.g. after its meters were re-created)
  -> 200 + the item; ``DELETE .../{id}`` -> 204 (the readings it brought stay, as in MyEMS)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, File, Response, UploadFile

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import WaitProjected, created, myems_datetime
from api.routers.myems_meters import meters_of
from api.routers.myems_resource import owned_row
from api.validation import Id
from commands import myems_offline_files as handlers
from domain import myems_offline_files as of
from projections import myems_offline_files as q

router = APIRouter(prefix=PREFIX, tags=["MyEMS offline meter files"], route_class=MyEmsRoute)
PROJECTION = "projection.myems_offline_files"
PATH = "offlinemeterfiles"


def _item(row: dict) -> dict:
    uploaded = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row["upload_us"])
    return {
        "id": row["id"],
        "file_name": row["file_name"],
        "uuid": row["uuid"],
        "upload_datetime": myems_datetime(uploaded),
        "status": row["status"],
    }


_visible = owned_row(q.file_by_id, "OFFLINE_METER_FILE")


def _meters_named(conn: sa.Connection, user: CurrentUser, names: list[str]) -> dict[str, tuple[int, str]]:
    """Header cell -> (offline meter id, its time zone): by name, else by id; 404 naming the first unknown."""
    meters = meters_of(conn, user.account_id, offline=True)
    by_name = {m["name"]: m for m in meters}
    by_id = {str(m["id"]): m for m in meters}
    found = {}
    for name in names:
        meter = by_name.get(name) or by_id.get(name)
        if meter is None:
            raise ApiError(
                404,
                "API.OFFLINE_METER_NOT_FOUND",
                f"the file names {name!r}, not an offline meter of the account",
                "file",
            )
        found[name] = (meter["id"], meter.get("timezone") or "UTC")
    return found


@router.post(f"/{PATH}", status_code=201)
def upload_file(
    file: Annotated[UploadFile, File()], user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Upload an offline meter file (multipart field ``file``: CSV or xlsx, at most 1 MB) and import its
    readings onto the named meters of the caller's account (idempotent); 201 with the file's id."""
    content = file.file.read(of.MAX_FILE_BYTES + 1)
    name = (file.filename or "upload")[:255]
    try:
        parsed = of.parse_offline_file(name, content)
    except of.OfflineFileError as exc:
        raise ApiError(400, "API.INVALID_FILE", str(exc), exc.field) from exc
    meters = _meters_named(conn, user, parsed.meters)
    file_id = handlers.upload(commands, user.account_id, name, content)
    handlers.process(commands, file_id, meters)
    wait(PROJECTION, of.offline_file_stream(file_id))
    return created(PATH, file_id)


@router.get(f"/{PATH}")
def list_files(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The offline meter files of the caller's account (admins: all), with their import status."""
    return [_item(row) for row in q.files(conn, None if user.can_read_all else user.account_id)]


@router.get(f"/{PATH}/{{file_id}}")
def get_file(file_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One offline meter file by id (404 when unknown, 403 for another account's)."""
    return _item(_visible(conn, user, file_id))


@router.get(f"/{PATH}/{{file_id}}/restore")
def restore_file(file_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected) -> dict:
    """Import the stored file's readings again (after a meter was added or fixed); answers the file."""
    row = _visible(conn, user, file_id, write=True)
    name, content = handlers.stored_file(commands, file_id)
    try:
        parsed = of.parse_offline_file(name, content)
    except of.OfflineFileError as exc:  # read at upload: only a changed reader could refuse it now
        raise ApiError(400, "API.INVALID_FILE", str(exc), exc.field) from exc
    handlers.process(commands, file_id, _meters_named(conn, user, parsed.meters))
    wait(PROJECTION, of.offline_file_stream(file_id))
    conn.rollback()  # end the read snapshot taken before the processing was projected (read-only connection)
    return _item(q.file_by_id(conn, file_id) or row)


@router.delete(f"/{PATH}/{{file_id}}", status_code=204)
def delete_file(file_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected) -> Response:
    """Delete the offline meter file (its imported readings stay in the history)."""
    _visible(conn, user, file_id, write=True)
    handlers.delete(commands, file_id)
    wait(PROJECTION, of.offline_file_stream(file_id))
    return Response(status_code=204)

"""What the read models holding personal data do when a user or an account is forgotten.

Shared by :mod:`projections.registry` (users, assets) and :mod:`projections.credentials`
(password hashes, API keys), so a forgotten subject leaves the same trace in each, live and
on a rebuild (:mod:`domain.personal_data`, :mod:`domain.private_locations`):

* ``UserForgotten``: :func:`forget_user_rows` deletes the user's rows; on a rebuild its
  registration reads with an erased e-mail (:func:`is_forgotten_registration`) and is skipped.
* ``AccountForgotten``: :func:`erase_private_locations` nulls the coordinates and erases the
  address fields of the account's private assets — what their sealed events read as on a
  rebuild, so live and rebuilt tables are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.personal_data import ERASED
from domain.private_locations import erased_location, is_private


def is_forgotten_registration(data: Mapping[str, Any]) -> bool:
    """Whether a ``UserRegistered`` (as read) is a forgotten user's: its key is gone, its e-mail erased."""
    return data.get("email") == ERASED


def forget_user_rows(conn: Connection, user_id: int, *user_columns: sa.Column) -> None:
    """Delete the forgotten user's rows: those whose ``user_columns`` (one per table) equal ``user_id``."""
    for column in user_columns:
        conn.execute(column.table.delete().where(column == user_id))


def erase_private_locations(conn: Connection, assets: sa.Table, account_id: int) -> int:
    """Erase the location of each private asset of the account in ``assets`` (columns ``id``,
    ``account_id``, ``latitude``, ``longitude``, ``attributes``); how many were private."""
    rows = conn.execute(sa.select(assets.c.id, assets.c.attributes).where(assets.c.account_id == account_id)).all()
    private = [row for row in rows if is_private(row.attributes)]
    for row in private:
        conn.execute(assets.update().where(assets.c.id == row.id).values(**erased_location(row.attributes)))
    return len(private)

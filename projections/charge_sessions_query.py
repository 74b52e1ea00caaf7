"""Queries on the charge-sessions read model (rows as dicts; energy in kWh, times in Unix s)."""

from __future__ import annotations

import sqlalchemy as sa

from projections.charge_sessions import charge_sessions


def list_sessions(
    conn: sa.Connection,
    evse_asset_id: int,
    start_from_s: int | None,
    start_to_s: int | None,
    after: tuple[int, str] | None,
    limit: int,
) -> list[dict]:
    """Sessions of one EVSE starting in ``[start_from_s, start_to_s)``, ordered by (start, id).

    ``after`` is the (start, id) of the last row of the previous page (keyset paging: rows
    inserted meanwhile never shift a page, so a walk has no gaps or duplicates).
    """
    c = charge_sessions.c
    query = sa.select(charge_sessions).where(c.evse_asset_id == evse_asset_id)
    if start_from_s is not None:
        query = query.where(c.start_s >= start_from_s)
    if start_to_s is not None:
        query = query.where(c.start_s < start_to_s)
    if after is not None:
        query = query.where(sa.or_(c.start_s > after[0], sa.and_(c.start_s == after[0], c.id > after[1])))
    query = query.order_by(c.start_s, c.id).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def session_totals(conn: sa.Connection, account_id: int | None = None) -> tuple[int, float]:
    """(count, total energy in kWh) of the sessions of an account (all when ``None``)."""
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(charge_sessions.c.energy_kwh), 0.0))
    if account_id is not None:
        query = query.where(charge_sessions.c.account_id == account_id)
    count, total = conn.execute(query).one()
    return int(count), float(total)

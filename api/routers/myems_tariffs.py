"""MyEMS ``tariffs`` under ``/myems`` (issue 14): time-of-use and block tariffs, a first-class price
source (a flex-context may name ``{"tariff": id}`` instead of a price sensor; see :mod:`domain.tariffs`).

* ``GET /myems/tariffs``, ``GET /myems/tariffs/{id}``, ``GET /myems/tariffs/{id}/export`` -> ``{"id",
  "name", "uuid", "energy_category": {"id", "name"}, "tariff_type", "unit_of_price", "valid_from",
  "valid_through", "timeofuse": [...]`` or ``"block": [...]}``; ``valid_from``/``valid_through`` as the
  seed documents them: POSIX timestamp * 1000 (float)
* ``POST /myems/tariffs`` (also ``/tariffs/import``, ``/tariffs/{id}/import``) -> 201 + ``Location``;
  ``POST /myems/tariffs/{id}/clone`` -> 201; ``PUT /myems/tariffs/{id}`` -> 200; ``DELETE`` -> 204
  (400 ``API.THERE_IS_RELATION_WITH_ASSETS`` while a flex-context names it)

Bodies as the seed's: ``energy_category_id`` (or ``energy_category: {"id"}``), ``tariff_type``,
``unit_of_price`` (``"EUR/kWh"`` to schedule with it), ``valid_from``/``valid_through`` (local
``YYYY-MM-DDTHH:MM:SS``), ``timezone`` (flexledger's extension, default UTC), ``timeofuse`` or ``block``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError

from api.errors import ApiError
from api.routers.myems_resource import Call, Family, owned_row, resource_router
from commands import myems_tariffs as handlers
from domain import myems_meters as mm
from domain import tariffs as tf
from projections import myems_tariffs as q
from projections import registry_query as rq

PROJECTION = "projection.myems_tariffs"
COST_CENTERS = "projection.myems_cost_centers"
DESCRIPTIONS = {
    "name": "API.INVALID_TARIFF_NAME",
    "tariff_type": "API.INVALID_TARIFF_TYPE",
    "unit_of_price": "API.INVALID_UNIT_OF_PRICE",
    "valid_from": "API.INVALID_VALID_FROM",
    "valid_through": "API.INVALID_VALID_THROUGH",
    "timeofuse": "API.INVALID_TARIFF_TIME_OF_USE_PRICING",
    "block": "API.INVALID_TARIFF_BLOCK_PRICING",
    "timezone": "API.INVALID_TIMEZONE",
    "energy_category_id": "API.INVALID_ENERGY_CATEGORY_ID",
}


def parse_tariff(data: dict[str, Any]) -> tf.TariffDefinition:
    category = data.get("energy_category")
    if "energy_category_id" not in data and isinstance(category, dict):
        data = {**data, "energy_category_id": category.get("id")}
    try:
        definition = tf.TariffDefinition.model_validate({**data, "name": str(data.get("name", "")).strip()})
        ZoneInfo(definition.timezone)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        raise ApiError(
            400, DESCRIPTIONS.get(field, "API.BAD_REQUEST"), f"{field}: {exc.errors()[0]['msg']}", field
        ) from exc
    except (ValueError, KeyError) as exc:
        raise ApiError(400, "API.INVALID_TIMEZONE", "unknown timezone", "timezone") from exc
    if definition.energy_category_id not in mm.ENERGY_CATEGORIES:
        raise ApiError(
            404,
            "API.ENERGY_CATEGORY_NOT_FOUND",
            f"no energy category {definition.energy_category_id}",
            "energy_category_id",
        )
    if definition.valid_from.tzinfo is not None or definition.valid_through.tzinfo is not None:
        raise ApiError(
            400,
            "API.INVALID_VALID_FROM",
            "valid_from/valid_through are local times in the tariff's timezone (no offset)",
            "valid_from",
        )
    return definition


def _ms(value: Any, tz: str) -> float:
    """A stored local datetime as the seed's POSIX timestamp * 1000."""
    local = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz))
    return local.timestamp() * 1000.0


def tariff_item(row: dict) -> dict:
    d = row["definition"]
    item = {
        "id": row["id"],
        "name": row["name"],
        "uuid": row["uuid"],
        "energy_category": {
            "id": d["energy_category_id"],
            "name": mm.ENERGY_CATEGORIES[d["energy_category_id"]]["name"],
        },
        "tariff_type": d["tariff_type"],
        "unit_of_price": d["unit_of_price"],
        "valid_from": _ms(d["valid_from"], d["timezone"]),
        "valid_through": _ms(d["valid_through"], d["timezone"]),
    }
    if d["tariff_type"] == "timeofuse":
        item["timeofuse"] = [
            {
                "start_time_of_day": p["start_time_of_day"],
                "end_time_of_day": p["end_time_of_day"],
                "peak_type": p["peak_type"],
                "price": p["price"],
            }
            for p in d["timeofuse"]
        ]
    else:
        item["block"] = [
            {"start_amount": b["start_amount"], "end_amount": b["end_amount"], "price": b["price"]} for b in d["block"]
        ]
    return item


_visible = owned_row(q.tariff_by_id, "TARIFF")


def _unique(conn: sa.Connection, account_id: int, name: str, tariff_id: int | None = None) -> None:
    same = q.tariff_by_name(conn, account_id, name)
    if same is not None and same["id"] != tariff_id:
        raise ApiError(400, "API.TARIFF_NAME_IS_ALREADY_IN_USE", f"a tariff named {name} exists", "name")


def _create(call: Call, data: dict[str, Any]) -> int:
    definition = parse_tariff(data)
    _unique(call.conn, call.user.account_id, definition.name)
    tariff_id = handlers.define_tariff(call.commands, call.user.account_id, definition)
    call.wait(PROJECTION, tf.tariff_stream(tariff_id))
    call.wait(COST_CENTERS, tf.tariff_stream(tariff_id))  # bound to the account's cost center
    return tariff_id


def _update(call: Call, row: dict, data: dict[str, Any]) -> None:
    definition = parse_tariff(data)
    _unique(call.conn, row["account_id"], definition.name, row["id"])
    handlers.redefine_tariff(call.commands, row["id"], definition)
    call.wait(PROJECTION, tf.tariff_stream(row["id"]))


def _named_by_assets(conn: sa.Connection, account_id: int, tariff_id: int) -> list[int]:
    return [
        a["id"]
        for a in rq.list_assets(conn, account_id)
        if any(a["flex_context"].get(name) == {"tariff": tariff_id} for name in tf.PRICE_FIELDS)
    ]


def _delete(call: Call, row: dict) -> None:
    users_of = _named_by_assets(call.conn, row["account_id"], row["id"])
    if users_of:
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_ASSETS", f"assets {users_of} name this tariff", "id")
    handlers.delete_tariff(call.commands, row["id"])
    call.wait(PROJECTION, tf.tariff_stream(row["id"]))
    call.wait(COST_CENTERS, tf.tariff_stream(row["id"]))


TARIFFS = Family(
    path="tariffs",
    tag="MyEMS tariffs",
    rows=lambda conn, user: q.tariffs(conn, None if user.can_read_all else user.account_id),
    visible=_visible,
    item=lambda conn, row: tariff_item(row),
    create=_create,
    update=_update,
    delete=_delete,
    clone_data=lambda row: {**row["definition"], "name": f"{row['name']} (Copy)"},
)
router = resource_router(TARIFFS)

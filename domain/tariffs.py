"""Tariffs as a first-class price source (MyEMS ``tariffs``): time-of-use and block.

A tariff lives in stream ``myemstariff-<id>``: defined, redefined (the whole definition) or deleted.

* **time of use**: periods of the local day (``start_time_of_day`` .. ``end_time_of_day``, the end
  second inclusive, as MyEMS writes ``"05:59:59"``) with a peak type (toppeak, onpeak, midpeak,
  offpeak) and a price in ``unit_of_price`` (e.g. ``"EUR/kWh"``), valid from ``valid_from``
  (inclusive) to ``valid_through`` (exclusive), in the tariff's time zone.
* **block**: a price per band of cumulative energy in a billing period (``start_amount`` ..
  ``end_amount`` kWh). Block tariffs price cost reports; the scheduler does not take them (its
  price per step would depend on energy it has not planned yet): naming one is a clear error.

A flex-context may name a tariff instead of a price sensor: ``"consumption-price": {"tariff": 7}``
(also ``production-price``). :func:`expand_tariff_references` replaces each such reference by
the tariff's prices on the schedule's time grid (a :class:`TimeSeries`), before the flex-context
is parsed, so the scheduler sees the same prices as if they had been posted as a sensor.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, Field

from domain.events import DomainEvent, register_event
from domain.scheduling.errors import INVALID_UNIT, INVALID_VALUE, UNRESOLVED_SENSOR, FlexModelError
from domain.scheduling.timeseries import TimeSeries
from domain.units import UnitError, conversion_factor

PEAK_TYPES = ("toppeak", "onpeak", "midpeak", "offpeak")
PRICE_FIELDS = ("consumption-price", "production-price")
MAX_STEPS = 100_000  # bounded work per expansion


def tariff_stream(tariff_id: int) -> str:
    return f"myemstariff-{tariff_id}"


class TimeOfUse(BaseModel):
    start_time_of_day: time
    end_time_of_day: time
    peak_type: Literal["toppeak", "onpeak", "midpeak", "offpeak"]
    price: float = Field(allow_inf_nan=False)


class Block(BaseModel):
    start_amount: float = Field(ge=0, allow_inf_nan=False)
    end_amount: float = Field(allow_inf_nan=False)
    price: float = Field(allow_inf_nan=False)


class TariffDefinition(BaseModel):
    """What a tariff says; ``valid_from``/``valid_through`` are local times in ``timezone``."""

    name: str = Field(min_length=1, max_length=255)
    energy_category_id: int = 1
    tariff_type: Literal["timeofuse", "block"]
    unit_of_price: str = Field(min_length=1, max_length=64)
    valid_from: datetime
    valid_through: datetime
    timezone: str = "UTC"
    timeofuse: list[TimeOfUse] = Field(default_factory=list, max_length=96)
    block: list[Block] = Field(default_factory=list, max_length=96)


@register_event
class MyEmsTariffDefined(DomainEvent):
    tariff_id: int
    account_id: int
    uuid: uuid.UUID
    definition: TariffDefinition


@register_event
class MyEmsTariffRedefined(DomainEvent):
    tariff_id: int
    definition: TariffDefinition


@register_event
class MyEmsTariffDeleted(DomainEvent):
    tariff_id: int


def evolve(state: MyEmsTariffDefined | None, event: DomainEvent) -> MyEmsTariffDefined | None:
    if isinstance(event, MyEmsTariffDefined):
        return event
    if isinstance(event, MyEmsTariffRedefined) and state is not None:
        return state.model_copy(update={"definition": event.definition})
    if isinstance(event, MyEmsTariffDeleted):
        return None
    return state


def check_definition(definition: TariffDefinition) -> str | None:
    """Why a definition is inconsistent (``None`` when it is fine): periods, blocks, validity."""
    if definition.valid_from >= definition.valid_through:
        return "valid_through must be after valid_from"
    if definition.tariff_type == "timeofuse":
        covered = sorted((p.start_time_of_day, p.end_time_of_day) for p in definition.timeofuse)
        if not covered or any(start > end for start, end in covered):
            return "timeofuse needs periods whose start is not after their end"
        if (
            any(_second(b[0]) != _second(a[1]) + 1 for a, b in zip(covered, covered[1:], strict=False))
            or _second(covered[0][0]) != 0
            or _second(covered[-1][1]) != 86399
        ):
            return "timeofuse periods must cover the day from 00:00:00 to 23:59:59 without gaps or overlaps"
    elif not definition.block or any(b.end_amount <= b.start_amount for b in definition.block):
        return "block needs bands whose end_amount is above their start_amount"
    return None


def _second(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def price_at(definition: TariffDefinition, moment: datetime) -> float | None:
    """The time-of-use price (in ``unit_of_price``) at ``moment``; ``None`` outside the validity."""
    tz = ZoneInfo(definition.timezone)
    local = moment.astimezone(tz)
    if not definition.valid_from.replace(tzinfo=tz) <= local < definition.valid_through.replace(tzinfo=tz):
        return None
    second = _second(local.time())
    for period in definition.timeofuse:
        if _second(period.start_time_of_day) <= second <= _second(period.end_time_of_day):
            return period.price
    return None


def peak_type_at(definition: TariffDefinition, moment: datetime) -> str | None:
    second = _second(moment.astimezone(ZoneInfo(definition.timezone)).time())
    for period in definition.timeofuse:
        if _second(period.start_time_of_day) <= second <= _second(period.end_time_of_day):
            return period.peak_type
    return None


def _price_in(
    definition: TariffDefinition, others: Sequence[TariffDefinition], moment: datetime, factors: Sequence[float]
) -> float | None:
    """The named tariff's price at ``moment``, else the first of ``others`` valid then (converted to
    the named tariff's unit by ``factors``); ``None`` when none is valid."""
    price = price_at(definition, moment)
    if price is not None:
        return price
    for other, factor in zip(others, factors, strict=True):
        price = price_at(other, moment)
        if price is not None:
            return price * factor
    return None


def _convertible(
    definition: TariffDefinition, others: Sequence[TariffDefinition], path: str
) -> tuple[list[TariffDefinition], list[float]]:
    """The others whose prices convert to the named tariff's unit, with their factors (the named
    tariff's own unit must be a price per energy: INVALID_UNIT otherwise)."""
    try:
        conversion_factor(definition.unit_of_price, "EUR/MWh")
    except UnitError as exc:
        raise FlexModelError(path, INVALID_UNIT, f"tariff unit_of_price {definition.unit_of_price!r}: {exc}") from exc
    kept, factors = [], []
    for other in others:
        try:
            factors.append(conversion_factor(other.unit_of_price, definition.unit_of_price))
        except UnitError:
            continue  # e.g. 元/千瓦时 beside EUR/kWh: cannot price this schedule
        kept.append(other)
    return kept, factors


def expand(
    definition: TariffDefinition,
    start: datetime,
    end: datetime,
    resolution: timedelta,
    path: str = "flex-context.consumption-price",
    others: Sequence[TariffDefinition] = (),
) -> TimeSeries:
    """The tariff's prices on the grid [start, end) of ``resolution`` (each step: the price at its start).

    A step outside the named tariff's validity takes the price of the account's other time-of-use
    tariff of the same energy category valid at that step (the one that took effect last, see
    :func:`successors`), converted to the named tariff's ``unit_of_price``; a step no tariff covers is an
    error naming ``path``."""
    if definition.tariff_type != "timeofuse":
        raise FlexModelError(
            path,
            INVALID_VALUE,
            "a block tariff prices cost reports, not schedules; name a time-of-use tariff or a price sensor",
        )
    others, factors = _convertible(definition, successors(definition, others), path)
    n_steps = math.ceil((end - start) / resolution)
    if n_steps > MAX_STEPS:
        raise FlexModelError(path, INVALID_VALUE, f"more than {MAX_STEPS} steps")
    values = [_price_in(definition, others, start + k * resolution, factors) for k in range(n_steps)]
    if any(v is None for v in values):
        raise FlexModelError(
            path,
            INVALID_VALUE,
            f"the tariff is not valid for the whole schedule "
            f"({definition.valid_from.isoformat()} .. {definition.valid_through.isoformat()}, "
            f"{definition.timezone}) and no other time-of-use tariff of the account covers the rest",
        )
    return TimeSeries(start, resolution, np.asarray(values, dtype=float), definition.unit_of_price)


def successors(definition: TariffDefinition, candidates: Sequence[TariffDefinition]) -> list[TariffDefinition]:
    """The candidates that may price a step outside ``definition``'s validity: time-of-use tariffs
    of the same energy category, other than ``definition`` itself; the latest ``valid_from`` first,
    so where several are valid at a step, the one that took effect last prices it."""
    return sorted(
        (
            c
            for c in candidates
            if c != definition
            and c.tariff_type == "timeofuse"
            and c.energy_category_id == definition.energy_category_id
        ),
        key=lambda c: c.valid_from,
        reverse=True,
    )


TariffLookup = Callable[[int], TariffDefinition | None]
"""The caller's look-up: tariff id -> its definition (``None``: unknown or not the caller's)."""


def expand_tariff_references(
    flex_context: Mapping[str, Any],
    lookup: TariffLookup,
    start: datetime,
    end: datetime,
    resolution: timedelta,
    others: Sequence[TariffDefinition] = (),
) -> dict[str, Any]:
    """The flex-context with each ``{"tariff": id}`` price replaced by the tariff's prices on the
    grid; ``others`` (the account's tariffs) price the steps outside the named tariff's validity."""
    expanded = dict(flex_context)
    for name in PRICE_FIELDS:
        value = flex_context.get(name)
        if not (isinstance(value, dict) and "tariff" in value):
            continue
        path = f"flex-context.{name}"
        tariff_id = value["tariff"]
        if set(value) != {"tariff"} or not isinstance(tariff_id, int) or isinstance(tariff_id, bool):
            raise FlexModelError(path, INVALID_VALUE, 'a tariff reference is {"tariff": id} only')
        definition = lookup(tariff_id)
        if definition is None:
            raise FlexModelError(path, UNRESOLVED_SENSOR, f"tariff {tariff_id} not found")
        expanded[name] = expand(definition, start, end, resolution, path, others)
    return expanded


def energy_by_peak_type(
    values_kwh: list[tuple[datetime, float]], definitions: list[TariffDefinition]
) -> dict[str, float]:
    """kWh per peak type (toppeak, onpeak, midpeak, offpeak) under the first time-of-use tariff
    valid at each reading's start; readings no tariff covers count nowhere."""
    totals = dict.fromkeys(PEAK_TYPES, 0.0)
    tous = [d for d in definitions if d.tariff_type == "timeofuse"]
    for moment, kwh in values_kwh:
        for definition in tous:
            if price_at(definition, moment) is not None:
                totals[peak_type_at(definition, moment) or "offpeak"] += kwh
                break
    return {name: round(value, 6) for name, value in totals.items()}

"""The real series of ``../shared/data`` the forecast bench runs on, as the sensors they would be.

Each :class:`Dataset` names the sensor and asset type it would have in the service (so the
service derives the same value range) and its country for public holidays.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from infra.shared_data import (
    ChargingSession,
    acn_site_sessions,
    load_de_load_mw,
    load_household_ev_kw,
    uncontrolled_load_kw,
)

TRONDHEIM_RATED_POWER_KW = 7.2
"""Assumed charging power of the Trondheim sessions (the data gives energy and plug-in time only)."""


@dataclass
class Dataset:
    """A regular series: ``values[i]`` is the mean over the slot starting ``start + i * resolution``."""

    name: str
    unit: str
    start: datetime
    resolution: timedelta
    values: np.ndarray
    timezone: str
    country: str
    sensor_name: str
    asset_type: str
    baseline: np.ndarray | None = None
    baseline_name: str = ""
    range_note: str = "from the sensor and asset type"


def _acn(data: Path, site: str, resolution: timedelta) -> Dataset:
    tz = ZoneInfo("America/Los_Angeles")
    start = datetime(2019, 5, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(2020, 1, 1, tzinfo=tz).astimezone(UTC)
    load = uncontrolled_load_kw(acn_site_sessions(data, site), start, end, resolution)
    label = f"{int(resolution.total_seconds() // 60)}min"
    return Dataset(f"ACN {site} EV load {label}", "kW", start, resolution, load, tz.key, "US",
                   "EV charging load", "charging station")


def _local(text: str, tz: ZoneInfo) -> datetime:
    return datetime.strptime(text, "%d.%m.%Y %H:%M").replace(tzinfo=tz).astimezone(UTC)


def trondheim_sessions(data: Path) -> list[ChargingSession]:
    """The Trondheim residential sessions (local times, ``;`` separated, decimal commas)."""
    tz = ZoneInfo("Europe/Oslo")
    sessions = []
    with (data / "norway" / "trondheim_sessions.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if "NA" in (row["Start_plugin"], row["End_plugout"], row["El_kWh"]):
                continue
            energy = float(row["El_kWh"].replace(",", "."))
            arrival, departure = _local(row["Start_plugin"], tz), _local(row["End_plugout"], tz)
            if departure > arrival and energy > 0:
                session = ChargingSession(row["session_ID"], row["Garage_ID"], arrival, departure, energy, energy)
                sessions.append(session)
    return sorted(sessions, key=lambda s: s.arrival)


def _trondheim(data: Path) -> Dataset:
    sessions = trondheim_sessions(data)
    start = sessions[0].arrival.replace(minute=0, second=0) + timedelta(days=1)
    start = start.replace(hour=0)
    end = max(s.departure for s in sessions).replace(minute=0, second=0)
    load = uncontrolled_load_kw(sessions, start, end, timedelta(hours=1), TRONDHEIM_RATED_POWER_KW)
    return Dataset("Trondheim residential EV load 60min", "kW", start, timedelta(hours=1), load, "Europe/Oslo",
                   "NO", "EV charging load", "charging station")


def _household(data: Path) -> Dataset:
    times, values = load_household_ev_kw(data)
    return Dataset("OPSD household res4 EV", "kW", times[0], timedelta(hours=1), values, "Europe/Berlin", "DE",
                   "EV consumption", "household")


def _de_load(data: Path) -> Dataset:
    times, actual, forecast = load_de_load_mw(data)
    return Dataset("DE load 2018", "MW", times[0], timedelta(hours=1), actual, "Europe/Berlin", "DE",
                   "actual load", "country", baseline=forecast, baseline_name="ENTSO-E day-ahead")


def load_datasets(data: Path) -> list[tuple[str, Callable[[], Dataset]]]:
    """(short name, lazy loader), in table order."""
    return [
        ("acn caltech 60min", lambda: _acn(data, "caltech", timedelta(hours=1))),
        ("acn caltech 15min", lambda: _acn(data, "caltech", timedelta(minutes=15))),
        ("acn jpl 60min", lambda: _acn(data, "jpl", timedelta(hours=1))),
        ("acn jpl 15min", lambda: _acn(data, "jpl", timedelta(minutes=15))),
        ("trondheim 60min", lambda: _trondheim(data)),
        ("household ev 60min", lambda: _household(data)),
        ("de load 60min", lambda: _de_load(data)),
    ]

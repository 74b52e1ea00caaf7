"""Loaders for the real measured data sets in ``../shared/data`` (see its README for provenance).

Everything here reads CSV files with the standard library and returns plain Python / numpy
objects with timezone-aware datetimes. Nothing is copied into the project: callers pass the
data folder, or rely on :func:`shared_data_dir`, which returns ``None`` when the folder is
absent (tests then skip with a reason; the demo falls back to ``infra/demo_data``).

Sign convention (USEF): consumption is positive, production negative.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ACN_RATED_POWER_KW = 6.6
"""Charging power assumed for uncontrolled ACN sessions (the Level-2 EVSEs at Caltech/JPL)."""


def shared_data_dir() -> Path | None:
    """The ``shared/data`` folder: ``$FLEXLEDGER_SHARED_DATA`` or ``../shared/data`` next to the repo."""
    env = os.environ.get("FLEXLEDGER_SHARED_DATA")
    candidates = [Path(env)] if env else []
    repo_root = Path(__file__).resolve().parent.parent
    candidates += [repo_root.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if (candidate / "acn").is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """One measured EV charging session; energies in kWh, times timezone-aware."""

    session_id: str
    station_id: str
    arrival: datetime
    departure: datetime
    requested_energy_kwh: float
    delivered_energy_kwh: float


def load_acn_sessions(path: Path) -> list[ChargingSession]:
    """Read one ACN-Data CSV (Caltech or JPL), sorted by arrival."""
    sessions = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            sessions.append(
                ChargingSession(
                    session_id=row["session_id"],
                    station_id=row["station_id"],
                    arrival=datetime.fromisoformat(row["arrival"]),
                    departure=datetime.fromisoformat(row["departure"]),
                    requested_energy_kwh=float(row["requested_energy (kWh)"] or 0.0),
                    delivered_energy_kwh=float(row["delivered_energy (kWh)"] or 0.0),
                )
            )
    sessions.sort(key=lambda s: s.arrival)
    return sessions


def acn_site_sessions(data_dir: Path, site: str = "caltech") -> list[ChargingSession]:
    """All sessions of one ACN site (``caltech`` or ``jpl``), May to December 2019."""
    files = sorted((data_dir / "acn").glob(f"{site}_2019-*.csv"))
    sessions = [s for f in files for s in load_acn_sessions(f)]
    sessions.sort(key=lambda s: s.arrival)
    return sessions


def uncontrolled_load_kw(
    sessions: list[ChargingSession],
    start: datetime,
    end: datetime,
    resolution: timedelta,
    rated_power_kw: float = ACN_RATED_POWER_KW,
) -> np.ndarray:
    """Site charging load (kW, consumption positive) in slots of ``resolution`` from ``start``.

    Each session charges at ``rated_power_kw`` from arrival until its delivered energy is
    reached (or it departs): the uncontrolled "charge at full power" profile. Each slot holds
    the mean power over the slot.
    """
    slot_s = resolution.total_seconds()
    n_slots = int((end - start).total_seconds() // slot_s)
    energy_kwh = np.zeros(n_slots)
    for s in sessions:
        duration_s = min(
            s.delivered_energy_kwh / rated_power_kw * 3600.0, (s.departure - s.arrival).total_seconds()
        )
        t0 = (s.arrival - start).total_seconds()
        t1 = t0 + duration_s
        if t1 <= 0 or t0 >= n_slots * slot_s:
            continue
        first, last = max(int(t0 // slot_s), 0), min(int(t1 // slot_s), n_slots - 1)
        for slot in range(first, last + 1):
            overlap = min(t1, (slot + 1) * slot_s) - max(t0, slot * slot_s)
            if overlap > 0:
                energy_kwh[slot] += rated_power_kw * overlap / 3600.0
    return energy_kwh / (slot_s / 3600.0)


def load_nl_day_ahead_prices(data_dir: Path) -> tuple[list[datetime], np.ndarray]:
    """Dutch hourly day-ahead prices: (hour starts, EUR/MWh). Negative prices included."""
    starts, prices = [], []
    with (data_dir / "prices" / "nl_day_ahead_2021_2023.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            starts.append(datetime.fromisoformat(row["datetime"]))
            prices.append(float(row["Day-ahead price [EUR/MWh]"]))
    return starts, np.asarray(prices)


def _opsd_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="") as handle:
        yield from csv.DictReader(handle)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def load_household_ev_kw(data_dir: Path) -> tuple[list[datetime], np.ndarray]:
    """Hourly EV consumption (kW = kWh per hour) of OPSD household DE_KN_residential4.

    The source column is a cumulative meter reading in kWh; it is differenced here. Hours
    before the first reading are dropped; a missing reading yields NaN for the hours it touches.
    """
    times, cumulative = [], []
    for row in _opsd_rows(data_dir / "opsd" / "household_res4_60min.csv"):
        value = row["DE_KN_residential4_ev"]
        if not value and not cumulative:
            continue
        times.append(_utc(row["utc_timestamp"]))
        cumulative.append(float(value) if value else np.nan)
    diffs = np.diff(np.asarray(cumulative))
    return times[1:], diffs


def load_de_load_mw(data_dir: Path) -> tuple[list[datetime], np.ndarray, np.ndarray]:
    """German hourly load 2018 (MW): (UTC hour starts, actual, ENTSO-E day-ahead forecast)."""
    times, actual, forecast = [], [], []
    for row in _opsd_rows(data_dir / "opsd" / "de_2018_60min.csv"):
        times.append(_utc(row["utc_timestamp"]))
        actual.append(float(row["DE_load_actual_entsoe_transparency"] or "nan"))
        forecast.append(float(row["DE_load_forecast_entsoe_transparency"] or "nan"))
    return times, np.asarray(actual), np.asarray(forecast)

"""``flexledger import sessions FILE``: charge sessions from ACN-Data or Trondheim CSVs, as events.

Formats (detected from the header):

* ACN-Data (``arrival,departure,...,delivered_energy (kWh),station_id,session_id,...``): times
  with offsets, energy in kWh.
* Trondheim (``session_ID;Garage_ID;User_ID;...;Start_plugin;...;End_plugout;...;El_kWh;...``):
  ``;``-separated, decimal commas, local times ``dd.mm.yyyy HH:MM`` in Europe/Oslo; the charger is
  the user's (``User_ID``).

Each station becomes a ``one-way_evse`` asset under one ``charge_site`` asset named after the
site, with an ``energy`` sensor (kWh, 15 min) and its EVSE facts. Each session becomes what a
live charger would produce: ``EvPluggedIn`` and ``ChargingStarted`` at arrival, the energy as
readings at the sensor's resolution (charging at ``max(ASSUMED_POWER_KW, energy / duration)``
from arrival, consumption positive), ``ChargingStopped`` when the energy is delivered and
``EvPluggedOut`` at departure. A 15-minute slot shared by two sessions of one station holds their
sum and belongs to the later session (the projection's rule), so the totals stay exact.

Idempotent: stations are found again through their ``evsestation-...`` stream, session ids and
reading event ids are derived from the file's rows, and a session already stored is skipped.
"""

from __future__ import annotations

import csv
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from commands import registry as reg
from commands.context import CommandContext, CommandError
from commands.ev import register_evse, session_id_for
from commands.readings import RecordSensorData, record_sensor_data
from domain import ev
from domain.ports.event_store import NO_STREAM

NAMESPACE = uuid.UUID("8a0c5d1e-64a2-4c1f-9a1e-3b7d0f7e5a13")
RESOLUTION_S = 900
ASSUMED_POWER_KW = 6.6
"""Charging power assumed when a file has no meter data (ACN's Level-2 EVSEs deliver up to ~6.6 kW)."""
OSLO = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True)
class ImportedSession:
    """One row: ``energy_kwh`` delivered (consumption positive) between arrival and departure."""

    station: str
    external_id: str
    arrival: datetime
    departure: datetime | None  # None: still plugged in when the file ends
    energy_kwh: float

    def charging_hours(self) -> float:
        """Hours to deliver the energy at max(ASSUMED_POWER_KW, energy / stay)."""
        if self.departure is None:
            return abs(self.energy_kwh) / ASSUMED_POWER_KW
        stay_h = max((self.departure - self.arrival).total_seconds(), 1) / 3600
        return abs(self.energy_kwh) / max(ASSUMED_POWER_KW, abs(self.energy_kwh) / stay_h)


def read_sessions(path: Path) -> tuple[str, list[ImportedSession]]:
    """(format name, sessions sorted by station and arrival)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = handle.readline()
        handle.seek(0)
        if header.startswith("session_ID;"):
            kind, rows = "trondheim", [_trondheim(r) for r in csv.DictReader(handle, delimiter=";")]
        elif "delivered_energy" in header and "arrival" in header:
            kind, rows = "acn", [_acn(r) for r in csv.DictReader(handle)]
        else:
            raise CommandError("UNKNOWN_FORMAT", f"{path}: neither an ACN-Data nor a Trondheim sessions CSV", "file")
    return kind, sorted(rows, key=lambda s: (s.station, s.arrival, s.external_id))


def _acn(row: dict) -> ImportedSession:
    arrival, departure = datetime.fromisoformat(row["arrival"]), datetime.fromisoformat(row["departure"])
    if arrival.tzinfo is None or departure.tzinfo is None:
        raise CommandError("INVALID_TIMEZONE", f"session {row['session_id']}: time without offset", "arrival")
    return ImportedSession(row["station_id"], row["session_id"], arrival, departure,
                           float(row["delivered_energy (kWh)"]))


def _trondheim(row: dict) -> ImportedSession:
    def local(text: str) -> datetime | None:
        if text.strip() == "NA":  # no plug-out yet
            return None
        return datetime.strptime(text.strip(), "%d.%m.%Y %H:%M").replace(tzinfo=OSLO)

    return ImportedSession(row["User_ID"], row["session_ID"], local(row["Start_plugin"]), local(row["End_plugout"]),
                           float(row["El_kWh"].replace(",", ".")))


def slot_energies(session: ImportedSession, resolution_s: int = RESOLUTION_S) -> dict[int, float]:
    """Energy (kWh) per slot start (Unix s): charging from arrival at a constant power until done."""
    if session.energy_kwh == 0:
        return {}
    start = session.arrival.timestamp()
    stop = start + max(session.charging_hours() * 3600, 1)
    power_kw = abs(session.energy_kwh) / ((stop - start) / 3600)
    out: dict[int, float] = {}
    slot = int(start // resolution_s * resolution_s)
    while slot < stop:
        overlap = min(stop, slot + resolution_s) - max(start, slot)
        out[slot] = power_kw * overlap / 3600 * (1 if session.energy_kwh > 0 else -1)
        slot += resolution_s
    last = max(out)  # the last slot takes the rounding remainder: the sum is the row's energy
    out[last] = session.energy_kwh - sum(v for s, v in out.items() if s != last)
    return out


def station_readings(sessions: list[ImportedSession], resolution_s: int = RESOLUTION_S) -> list[dict[int, float]]:
    """Per session of one station (sorted by arrival): the slots it owns with the station's energy.

    A slot belongs to the latest session starting before the slot's end, if that one had not
    left at the slot's start (as :mod:`projections.charge_sessions` decides).
    """
    merged: dict[int, float] = defaultdict(float)
    for session in sessions:
        for slot, kwh in slot_energies(session, resolution_s).items():
            merged[slot] += kwh
    owned: list[dict[int, float]] = [{} for _ in sessions]
    starts = [s.arrival.timestamp() for s in sessions]
    index = 0
    for slot in sorted(merged):
        while index + 1 < len(sessions) and starts[index + 1] < slot + resolution_s:
            index += 1
        departure = sessions[index].departure
        if starts[index] < slot + resolution_s and (departure is None or slot < departure.timestamp()):
            owned[index][slot] = merged[slot]
    return owned


def _station(ctx: CommandContext, account_id: int, site_id: int, station: str, tz: str) -> tuple[int, int]:
    """(EVSE asset id, energy sensor id) of a station, created on first use."""
    stream = f"evsestation-{account_id}-{station}"
    events, _ = ctx.load(stream)
    if events:
        return events[0].asset_id, events[0].sensor_id
    asset_id = reg.register_asset(ctx, reg.RegisterAsset(
        account_id=account_id, name=station, asset_type="one-way_evse", parent_asset_id=site_id))
    sensor_id = reg.register_sensor(ctx, reg.RegisterSensor(
        asset_id=asset_id, name="energy", unit="kWh", event_resolution_s=RESOLUTION_S, timezone=tz))
    register_evse(ctx, ev.EvseRegistered(asset_id=asset_id, account_id=account_id, make="imported",
                                         max_power_kw=ASSUMED_POWER_KW, energy_sensor_id=sensor_id, timezone=tz))
    ctx.append(stream, [ev.StationMapped(asset_id=asset_id, sensor_id=sensor_id, station=station)], NO_STREAM)
    return asset_id, sensor_id


def _site(ctx: CommandContext, account_id: int, name: str) -> int:
    stream = f"evsesite-{account_id}-{name}"
    events, _ = ctx.load(stream)
    if events:
        return events[0].asset_id
    site_id = reg.register_asset(ctx, reg.RegisterAsset(account_id=account_id, name=name, asset_type="charge_site"))
    ctx.append(stream, [ev.StationMapped(asset_id=site_id, sensor_id=None, station=name)], NO_STREAM)
    return site_id


def import_sessions(
    ctx: CommandContext, account_id: int, path: Path, site: str | None = None,
    on_progress: Callable[[int, int], None] | None = None, workers: int = 8,
) -> int:
    """Import a sessions file into ``account_id``; returns the number of sessions in the file."""
    kind, sessions = read_sessions(path)
    tz = "Europe/Oslo" if kind == "trondheim" else "America/Los_Angeles"
    site_id = _site(ctx, account_id, site or kind)
    by_station: dict[str, list[ImportedSession]] = defaultdict(list)
    for session in sessions:
        by_station[session.station].append(session)
    progress = _Progress(len(sessions), on_progress)

    def one_station(station: str) -> None:
        rows = by_station[station]
        asset_id, sensor_id = _station(ctx, account_id, site_id, station, tz)
        sensor = reg.load_sensor(ctx, sensor_id)
        for session, owned in zip(rows, station_readings(rows), strict=True):
            _import_one(ctx, asset_id, sensor, session, owned)
            progress.step()

    # stations in parallel: the SQL stores commit concurrent appends together (one fsync)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one_station, sorted(by_station)))
    return len(sessions)


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None):
        self.total, self.callback, self.done, self.lock = total, callback, 0, threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.callback:
                self.callback(self.done, self.total)


def done_at(row: ImportedSession) -> datetime:
    """When the session's energy was delivered (the belief time of readings without a plug-out)."""
    return row.arrival + timedelta(hours=row.charging_hours())


def _import_one(ctx: CommandContext, asset_id: int, sensor, row: ImportedSession, owned: dict) -> None:
    session_id = session_id_for(NAMESPACE, asset_id, row.external_id, row.arrival)
    stream = ev.session_stream(session_id)
    if ctx.store.stream_revision(stream) is None:
        done = row.arrival + timedelta(hours=row.charging_hours())
        steps = [
            ev.EvPluggedIn(session_id=session_id, evse_asset_id=asset_id, at=row.arrival, external_id=row.external_id),
            ev.ChargingStarted(session_id=session_id, at=row.arrival),
            ev.ChargingStopped(session_id=session_id, at=done if row.departure is None else max(
                row.arrival, min(done, row.departure))),
        ]
        if row.departure is not None:
            steps.append(ev.EvPluggedOut(session_id=session_id, at=max(row.departure, row.arrival)))
        ctx.append(stream, steps, NO_STREAM)
    if owned:
        first = min(owned)
        values = [owned.get(first + i * RESOLUTION_S, 0.0) for i in range((max(owned) - first) // RESOLUTION_S + 1)]
        record_sensor_data(ctx, RecordSensorData(
            sensor_id=sensor.sensor_id, start=datetime.fromtimestamp(first, UTC),
            duration=timedelta(seconds=RESOLUTION_S * len(values)), values=values, unit="kWh",
            source="session-import", source_type="import", prior=row.departure or done_at(row),
            event_id=uuid.uuid5(NAMESPACE, f"readings/{session_id}"),
        ), sensor)

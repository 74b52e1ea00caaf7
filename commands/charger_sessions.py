"""Feed charge sessions from what chargers say: the charger's events -> EV-domain events and energy.

After the OCPP sink appends a charger's events (stream ``charger-<asset id>``), :class:`ChargerSessionFeed`
folds them with :func:`domain.charger_sessions.step` and records what they mean: session events
(``evsession-<uuid>``, :mod:`commands.ev`'s rules) and the energy per slot as readings of the
EVSE's energy sensor (kWh, consumption positive) — the sensor the asset maps
``Energy.Active.Import.Register`` to (``attributes.ocpp.sensors``), else the EVSE's
``energy_sensor_id``; it must be a sensor of the asset itself.

Ids are derived from the charger event's id (session: ``uuid5(event id, "session")``; each
recorded event: ``uuid5(event id, ...)``), so recording the same charger event twice stores
nothing new. The per-charger state is folded once per process and then kept up to date.

Crash safety: with a checkpoint store, the feed saves (as ``charger-sessions``, partition: the
charger's stream) the global position of the last charger event whose meaning it recorded. After
a restart, the first message of a charger folds its history and records every event after that
checkpoint, so events stored just before a crash (appended, not yet fed) are still recorded.
Without a checkpoint store only the events of the message at hand are recorded.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from commands.context import CommandContext, CommandError
from commands.ev import record_session_event
from commands.readings import RecordSensorData, record_sensor_data
from commands.registry import load_sensor
from domain import charger_sessions as cs
from domain import chargers as ch
from domain import ev
from domain.ports.checkpoints import CheckpointStore
from domain.registry import SensorRegistered

log = logging.getLogger(__name__)
REGISTER = "Energy.Active.Import.Register"
CHECKPOINT_NAME = "charger-sessions"


class ChargerSessionFeed:
    """Per charger: the folded state and the stream revision it reflects (thread-safe)."""

    def __init__(self, checkpoints: CheckpointStore | None = None) -> None:
        self._states: dict[int, tuple[cs.ChargerState, int]] = {}
        self._lock = threading.Lock()
        self.checkpoints = checkpoints
        self._recorded: dict[str, int] | None = None

    def feed(self, ctx: CommandContext, asset: dict, source: str, first_new_revision: int) -> None:
        """Fold the charger's events up to its stream's end; record what the events from
        ``first_new_revision`` on mean, and (with a checkpoint store) every event after the last
        one recorded before (see the module docstring)."""
        asset_id, stream = asset["id"], ch.charger_stream(asset["id"])
        sensor = energy_sensor(ctx, asset)
        resolution_s = sensor.event_resolution_s if sensor is not None else 0
        with self._lock:
            state, revision = self._states.get(asset_id, (cs.ChargerState(), -1))
            recorded_up_to = self._recorded_positions().get(stream, -1)
            last_recorded = None
            for recorded in ctx.store.read_stream(stream, from_revision=revision + 1):
                session_id = uuid.uuid5(recorded.event_id, "session")
                outcome = cs.step(state, recorded.decode(), session_id=session_id, resolution_s=resolution_s)
                state, revision = outcome.state, recorded.stream_revision
                if revision >= first_new_revision or (self.checkpoints and recorded.global_position > recorded_up_to):
                    _record(ctx, outcome, recorded.event_id, sensor, source)
                    last_recorded = recorded.global_position
            self._states[asset_id] = (state, revision)
            if self.checkpoints is not None and last_recorded is not None:
                self.checkpoints.save(CHECKPOINT_NAME, stream, last_recorded)
                self._recorded_positions()[stream] = last_recorded

    def _recorded_positions(self) -> dict[str, int]:
        """Per charger stream, the global position of the last event recorded (loaded once)."""
        if self._recorded is None:
            self._recorded = dict(self.checkpoints.load(CHECKPOINT_NAME)) if self.checkpoints is not None else {}
        return self._recorded


def energy_sensor(ctx: CommandContext, asset: dict) -> SensorRegistered | None:
    """The sensor that meters the EVSE's energy (see the module docstring), ``None`` if none."""
    mapped = ((asset.get("attributes") or {}).get("ocpp") or {}).get("sensors") or {}
    sensor_id = mapped.get(REGISTER)
    if sensor_id is None:
        events, _ = ctx.load(f"evse-{asset['id']}")
        for event in events:
            if isinstance(event, ev.EvseRegistered):
                sensor_id = event.energy_sensor_id
            elif isinstance(event, ev.EvseChanged) and "energy_sensor_id" in event.changes:
                sensor_id = event.changes["energy_sensor_id"]
    sensor = None if sensor_id is None else load_sensor(ctx, int(sensor_id))
    if sensor is None or sensor.asset_id != asset["id"]:
        return None
    return sensor


def _record(
    ctx: CommandContext, outcome: cs.ChargerStep, event_id: uuid.UUID, sensor: SensorRegistered | None, source: str
) -> None:
    for index, event in enumerate(outcome.session_events):
        try:
            record_session_event(ctx, event, uuid.uuid5(event_id, f"session-{index}"))
        except CommandError as exc:
            log.warning("charger event %s: %s not recorded: %s", event_id, type(event).__name__, exc)
    for slot in outcome.energy_slots:
        if sensor is None:
            break
        try:
            record_sensor_data(
                ctx,
                RecordSensorData(
                    sensor_id=sensor.sensor_id,
                    start=datetime.fromtimestamp(slot.start_s, UTC),
                    duration=timedelta(seconds=slot.resolution_s),
                    values=[slot.energy_wh / 1000],
                    unit="kWh",
                    source=source,
                    source_type="device",
                    event_id=uuid.uuid5(event_id, f"energy-{slot.start_s}"),
                ),
                sensor,
            )
        except CommandError as exc:
            log.warning("charger event %s: energy of slot %s not recorded: %s", event_id, slot.start_s, exc)

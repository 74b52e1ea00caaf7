"""Schedules become setpoints: every new schedule of an opted-in device becomes device commands.

A device opts in with ``"schedule_setpoints": true`` in its asset's attributes. For each
``ScheduleComputed`` naming the device's power sensor:

* an OCPP charger gets one ``set_charging_profile`` command carrying the schedule's power per
  slot (kW, consumption positive; the gateway sends the limits in W from the schedule's start);
* any other device (MQTT, simulated) gets a ``set_power`` command per slot, scheduled for the
  slot's start and expiring at its end.

Commands carry the schedule as their reason and derive their idempotency keys from the schedule
id, so replaying the schedule events records nothing twice. A newer schedule supersedes the
older one: the device's not yet dispatched commands from earlier schedules are cancelled (a
dispatched charging profile is replaced by the next one at the charger: same profile id and
stack level). The processor follows the event store (``schedule-`` streams) from a checkpoint
kept in the shared checkpoint store.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta

from commands.context import CommandContext, CommandError
from commands.device_commands import cancel_command, request_command
from commands.registry import load_asset, load_sensor
from domain import device_commands as dc
from domain.events import EventMetadata, RecordedEvent
from domain.ports.checkpoints import ALL_PARTITIONS, CheckpointStore
from domain.schedules import ScheduleComputed, schedule_stream
from streams.append_watch import AppendWatch, Seen, StoreWatch, read_news

log = logging.getLogger(__name__)
OPT_IN = "schedule_setpoints"
NAME = "device_setpoints"
MAX_SLOTS = 672
"""At most this many per-slot setpoints from one schedule (a week of 15-minute slots)."""

OpenCommands = Callable[[int], list[tuple[str, str]]]
"""(asset id) -> (command id, reason) of the device's commands not yet dispatched."""


class ScheduleSetpoints:
    """Turns schedules into commands for opted-in devices (a plain class over events)."""

    name = NAME

    def __init__(
        self,
        commands: CommandContext,
        checkpoints: CheckpointStore | None = None,
        open_commands: OpenCommands | None = None,
    ):
        self.commands = CommandContext(
            commands.store, commands.clock, EventMetadata(actor="system:setpoints", source="scheduler")
        )
        self.checkpoints, self.open_commands = checkpoints, open_commands
        self.position = 0
        """Every event at or before this position has been applied (read from the checkpoint by :meth:`resume`)."""
        self.appends: AppendWatch | None = None
        """How :meth:`run` hears of schedule events (default: every append of the store)."""

    def resume(self) -> None:
        """Continue from the saved checkpoint (the store's tables exist: the composition root's storage step)."""
        if self.checkpoints is not None:
            self.position = max(self.position, *self.checkpoints.load(NAME).values(), 0)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            if recorded.type == "ScheduleComputed":
                self._schedule(recorded, recorded.decode())
            self.position = max(self.position, recorded.global_position)
        if self.checkpoints is not None and events:
            self.checkpoints.save(NAME, ALL_PARTITIONS, self.position)

    def _schedule(self, recorded: RecordedEvent, schedule: ScheduleComputed) -> None:
        for device in schedule.devices:
            sensor = load_sensor(self.commands, device.sensor_id)
            asset = load_asset(self.commands, sensor.asset_id) if sensor else None
            if asset is None or not asset.attributes.get(OPT_IN):
                continue
            address = dc.device_address(asset.asset_id, asset.attributes)
            if address is None:
                log.warning("asset %s follows schedules but has no gateway", asset.asset_id)
                continue
            meta = EventMetadata(
                actor="system:setpoints",
                source="scheduler",
                causation_id=str(recorded.event_id),
                correlation_id=recorded.metadata.correlation_id or str(schedule.schedule_id),
            )
            ctx = CommandContext(self.commands.store, self.commands.clock, meta)
            reason = f"schedule {schedule.schedule_id}"
            requests = [
                r
                for r in self._requests(schedule, device.power_kw, asset.asset_id, address["gateway"], reason)
                if r.expires_at > ctx.clock()  # a replayed or late schedule's past slots become nothing
            ]
            created = []
            for request in requests:
                try:
                    created.append(str(request_command(ctx, request)[0].command_id))
                except CommandError as exc:
                    log.warning("setpoint for asset %s refused: %s", asset.asset_id, exc)
            self._supersede(ctx, asset.asset_id, reason, set(created))

    @staticmethod
    def _requests(
        schedule: ScheduleComputed, power_kw: list[float], asset_id: int, gateway: str, reason: str
    ) -> list[dc.DeviceCommandRequest]:
        step = timedelta(seconds=schedule.resolution_s)
        end = schedule.start + step * len(power_kw)
        key = f"{schedule_stream(schedule.schedule_id)}:{asset_id}"
        if gateway == "ocpp":
            parameters = {
                "limits_kw": [round(p, 3) for p in power_kw],
                "slot_duration_s": schedule.resolution_s,
                "start": schedule.start.isoformat(),
            }
            return [
                dc.DeviceCommandRequest(
                    asset_id=asset_id,
                    action="set_charging_profile",
                    parameters=parameters,
                    expires_at=end,
                    reason=reason,
                    idempotency_key=key,
                )
            ]
        return [
            dc.DeviceCommandRequest(
                asset_id=asset_id,
                action="set_power",
                parameters={"power_kw": round(p, 3)},
                execute_at=schedule.start + step * i,
                expires_at=schedule.start + step * (i + 1),
                reason=reason,
                idempotency_key=f"{key}:{i}",
            )
            for i, p in enumerate(power_kw[:MAX_SLOTS])
        ]

    def _supersede(self, ctx: CommandContext, asset_id: int, reason: str, keep: set[str]) -> None:
        if self.open_commands is None:
            return
        for command_id, old_reason in self.open_commands(asset_id):
            if command_id in keep or not (old_reason or "").startswith("schedule ") or old_reason == reason:
                continue
            with contextlib.suppress(CommandError):  # dispatched meanwhile: the newer commands replace it
                cancel_command(ctx, uuid.UUID(command_id), f"superseded by {reason}")

    def run(self, stop: threading.Event, interval_s: float = 0.2, batch_size: int = 500) -> None:
        """Follow the ``schedule-`` streams of the event store from the checkpoint until ``stop`` is
        set, reading them when :attr:`appends` tells of new schedule events (an append of this
        process wakes at once; otherwise it looks every ``interval_s`` seconds)."""
        store, appends = self.commands.store, self.appends or StoreWatch(self.commands.store)
        self.resume()
        seen = Seen(True, self.position)
        while not stop.is_set():
            try:
                batch, reached, full = read_news(store, "schedule-", self.position, seen, batch_size)
                self.apply(batch)
                self.position = max(self.position, reached)
            except Exception:  # noqa: BLE001 - logged, retried after the interval
                log.exception("schedule setpoints failed; retrying")
                stop.wait(interval_s)
                continue
            if not full:
                seen = appends.wait(self.position, interval_s)

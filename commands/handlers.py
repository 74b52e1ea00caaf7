"""The command -> handler table: every command the system accepts and the one function that handles it.

Every handler has the same shape, ``handler(ctx: CommandContext, command) -> result``: it loads
the stream state it needs, lets the domain decide, and appends with an expected revision;
refusals are :class:`~commands.context.CommandError` (a stable code and the field, no HTTP).
Callers that already hold the state a handler would load (the API holds the sensor row when it
records readings) may call the handler function directly with it; :func:`handle` is the
uniform way in (the CLI, importers, tests).

A UDI event is decided from its stream (:func:`commands.scheduling.post_udi_event`), so its
command is the :class:`~domain.udi.UdiEventPosted` built at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commands import registry as reg
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from commands.scheduling import TriggerSchedule, post_udi_event, trigger_schedule
from domain.udi import UdiEventPosted

Handler = Callable[[CommandContext, Any], Any]

HANDLERS: dict[type, Handler] = {
    reg.RegisterAccount: reg.register_account,
    reg.RegisterUser: reg.register_user,
    reg.RegisterAsset: reg.register_asset,
    reg.ChangeAsset: reg.change_asset,
    reg.DeleteAsset: reg.delete_asset,
    reg.RegisterSensor: reg.register_sensor,
    reg.ChangeSensor: reg.change_sensor,
    reg.DeleteSensor: reg.delete_sensor,
    RecordSensorData: record_sensor_data,
    TriggerSchedule: trigger_schedule,
    UdiEventPosted: post_udi_event,
}


def handle(ctx: CommandContext, command: Any) -> Any:
    """Run the handler of ``command`` (``TypeError`` for an object that is no command)."""
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"{type(command).__name__} is not a command")
    return handler(ctx, command)

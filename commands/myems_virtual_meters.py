"""Handlers of virtual meters (MyEMS ``virtualmeters``): define, redefine, delete."""

from __future__ import annotations

import uuid
from functools import reduce

from commands.context import CommandContext, CommandError
from domain import virtual_meters as vm
from domain.ports.event_store import NO_STREAM


def define_virtual_meter(ctx: CommandContext, account_id: int, uid: uuid.UUID,
                         definition: vm.VirtualMeterDefinition) -> int:
    vm_id = ctx.reserve_id("myemsvirtualmeter")
    event = vm.MyEmsVirtualMeterDefined(virtual_meter_id=vm_id, account_id=account_id, uuid=uid, definition=definition)
    ctx.append(vm.virtual_meter_stream(vm_id), [event], NO_STREAM)
    return vm_id


def _revision(ctx: CommandContext, vm_id: int) -> int:
    events, revision = ctx.load(vm.virtual_meter_stream(vm_id))
    if reduce(vm.evolve, events, None) is None or revision is None:
        raise CommandError("API.VIRTUAL_METER_NOT_FOUND", f"no virtual meter {vm_id}", "id")
    return revision


def redefine_virtual_meter(ctx: CommandContext, vm_id: int, definition: vm.VirtualMeterDefinition) -> None:
    event = vm.MyEmsVirtualMeterRedefined(virtual_meter_id=vm_id, definition=definition)
    ctx.append(vm.virtual_meter_stream(vm_id), [event], _revision(ctx, vm_id))


def delete_virtual_meter(ctx: CommandContext, vm_id: int) -> None:
    ctx.append(vm.virtual_meter_stream(vm_id), [vm.MyEmsVirtualMeterDeleted(virtual_meter_id=vm_id)],
               _revision(ctx, vm_id))

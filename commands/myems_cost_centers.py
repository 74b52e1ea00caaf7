"""Handlers of MyEMS cost centers (see :mod:`domain.myems_cost_centers`): a cost center is an
account, created, renamed and deleted through the registry's account commands; its external id
and tariff bindings go to its own stream."""

from __future__ import annotations

from commands import registry as reg
from commands.context import CommandContext
from domain import myems_cost_centers as cc
from domain.ports.event_store import ANY


def create_cost_center(ctx: CommandContext, name: str, external_id: str | None) -> int:
    """A new account named ``name`` (no roles); returns its id, the cost center's."""
    account_id = reg.register_account(ctx, reg.RegisterAccount(name=name))
    set_external_id(ctx, account_id, external_id)
    return account_id


def set_external_id(ctx: CommandContext, account_id: int, external_id: str | None) -> None:
    event = cc.MyEmsCostCenterExternalIdSet(account_id=account_id, external_id=external_id)
    ctx.append(cc.cost_center_stream(account_id), [event], ANY)


def update_cost_center(ctx: CommandContext, account_id: int, name: str, external_id: str | None) -> None:
    reg.change_account(ctx, account_id, {"name": name})
    set_external_id(ctx, account_id, external_id)


def delete_cost_center(ctx: CommandContext, account_id: int) -> None:
    reg.delete_account(ctx, account_id)


def bind_tariff(ctx: CommandContext, account_id: int, tariff_id: int) -> None:
    event = cc.MyEmsCostCenterTariffBound(account_id=account_id, tariff_id=tariff_id)
    ctx.append(cc.cost_center_stream(account_id), [event], ANY)


def unbind_tariff(ctx: CommandContext, account_id: int, tariff_id: int) -> None:
    event = cc.MyEmsCostCenterTariffUnbound(account_id=account_id, tariff_id=tariff_id)
    ctx.append(cc.cost_center_stream(account_id), [event], ANY)

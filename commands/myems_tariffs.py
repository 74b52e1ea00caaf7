"""Handlers of tariffs (MyEMS ``tariffs``): define, redefine, delete (see :mod:`domain.tariffs`)."""

from __future__ import annotations

import uuid
from functools import reduce

from commands.context import CommandContext, CommandError
from domain import tariffs as tf
from domain.ports.event_store import NO_STREAM


def _checked(definition: tf.TariffDefinition) -> tf.TariffDefinition:
    problem = tf.check_definition(definition)
    if problem is not None:
        field = "valid_through" if "valid" in problem else definition.tariff_type
        code = {"timeofuse": "API.INVALID_TARIFF_TIME_OF_USE_PRICING", "block": "API.INVALID_TARIFF_BLOCK_PRICING",
                "valid_through": "API.INVALID_VALID_THROUGH"}[field]
        raise CommandError(code, problem, field)
    return definition


def define_tariff(ctx: CommandContext, account_id: int, definition: tf.TariffDefinition) -> int:
    tariff_id = ctx.reserve_id("myemstariff")
    event = tf.MyEmsTariffDefined(tariff_id=tariff_id, account_id=account_id, uuid=uuid.uuid4(),
                                  definition=_checked(definition))
    ctx.append(tf.tariff_stream(tariff_id), [event], NO_STREAM)
    return tariff_id


def _revision(ctx: CommandContext, tariff_id: int) -> int:
    events, revision = ctx.load(tf.tariff_stream(tariff_id))
    if reduce(tf.evolve, events, None) is None or revision is None:
        raise CommandError("API.TARIFF_NOT_FOUND", f"no tariff {tariff_id}", "id")
    return revision


def redefine_tariff(ctx: CommandContext, tariff_id: int, definition: tf.TariffDefinition) -> None:
    event = tf.MyEmsTariffRedefined(tariff_id=tariff_id, definition=_checked(definition))
    ctx.append(tf.tariff_stream(tariff_id), [event], _revision(ctx, tariff_id))


def delete_tariff(ctx: CommandContext, tariff_id: int) -> None:
    ctx.append(tf.tariff_stream(tariff_id), [tf.MyEmsTariffDeleted(tariff_id=tariff_id)], _revision(ctx, tariff_id))

"""Forget a user or an account (crypto-shredding, :mod:`domain.personal_data`).

:func:`forget_user` appends ``UserForgotten`` to the user's stream (read models drop the user:
no login, no token, no key works any more), releases the e-mail address (``EmailReleased`` in
its uniqueness stream), then destroys the user's data key: every sealed personal field of the
user (e-mail, username) reads as ``[erased]`` from then on, in read models, history, streams
and exports, while the stored events — and so the hash chain — stay exactly as they were.

:func:`forget_account` appends ``AccountForgotten`` to the account's stream, then destroys the
account's data key: the locations of its private assets (:mod:`domain.private_locations`)
read as erased (coordinates ``None``, address fields ``[erased]``) from then on; the account,
its users, assets and readings stay (forget its users one by one).
"""

from __future__ import annotations

from functools import reduce

from pydantic import BaseModel

from commands.context import CommandContext, CommandError
from commands.user_emails import release_email
from domain import registry as ev
from domain.personal_data import UserForgotten, subject_of_user
from domain.ports.personal_keys import PersonalDataKeys
from domain.private_locations import AccountForgotten, subject_of_account


class ForgetUser(BaseModel):
    user_id: int


class ForgetAccount(BaseModel):
    account_id: int


def forget_user(ctx: CommandContext, keys: PersonalDataKeys, cmd: ForgetUser) -> None:
    """Forget the user: ``UNRECOGNIZED_USER`` when there is none (or it was forgotten already)."""
    stream_id = ev.stream_of("user", cmd.user_id)
    recorded = ctx.store.read_stream(stream_id)
    if not recorded or any(e.type == "UserForgotten" for e in recorded):
        raise CommandError("UNRECOGNIZED_USER", f"no user {cmd.user_id}", "id")
    state = reduce(ev.evolve_user, [e.decode() for e in recorded], None)
    ctx.append(stream_id, [UserForgotten(user_id=cmd.user_id)], recorded[-1].stream_revision)
    if state is not None:
        release_email(ctx, state.email, cmd.user_id)
    keys.forget(subject_of_user(cmd.user_id))


def forget_account(ctx: CommandContext, keys: PersonalDataKeys, cmd: ForgetAccount) -> None:
    """Forget the account's personal data: ``UNKNOWN_ACCOUNT`` when there is no such account,
    ``ACCOUNT_FORGOTTEN`` when it was forgotten already (its key is gone for ever)."""
    stream_id = ev.stream_of("account", cmd.account_id)
    recorded = ctx.store.read_stream(stream_id)
    if not recorded:
        raise CommandError("UNKNOWN_ACCOUNT", f"no account {cmd.account_id}", "account_id")
    if any(e.type == "AccountForgotten" for e in recorded):
        raise CommandError("ACCOUNT_FORGOTTEN", f"account {cmd.account_id} was forgotten already", "account_id")
    ctx.append(stream_id, [AccountForgotten(account_id=cmd.account_id)], recorded[-1].stream_revision)
    keys.forget(subject_of_account(cmd.account_id))

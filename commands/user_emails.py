"""E-mail uniqueness: one stream per address, named by a keyed hash (:func:`domain.personal_data.email_streams`).

The stream holds ``IdReserved(kind="user-email")`` when a user registers with the address and
``EmailReleased`` when that user is forgotten; the address is free when the stream is missing
or its last event is a release. The stream of a store written before pseudonyms existed
(``useremail-<address>``) still counts as taken.
"""

from __future__ import annotations

from domain.personal_data import ERASED, EmailReleased, email_streams
from domain.ports.event_store import NO_STREAM, EventStore, ExpectedRevision


def _holder(store: EventStore, stream_id: str) -> tuple[int | None, int | None]:
    """(user id holding the address or ``None``, the stream's revision or ``None``)."""
    last = store.read_stream(stream_id, -1, backwards=True, limit=1)
    if not last:
        return None, None
    event = last[0]
    holder = None if event.type == "EmailReleased" else event.data.get("id")
    return holder, event.stream_revision


def email_holder(store: EventStore, email: str) -> int | None:
    """The id of the user registered with ``email`` (not forgotten), from the event store."""
    for stream_id in email_streams(store, email):
        holder, _ = _holder(store, stream_id)
        if holder is not None:
            return holder
    return None


def free_email_stream(store: EventStore, email: str) -> tuple[str, ExpectedRevision] | None:
    """(stream to reserve the address on, its expected revision), or ``None`` when it is taken."""
    stream_id, legacy = email_streams(store, email)
    if _holder(store, legacy)[0] is not None:
        return None
    holder, revision = _holder(store, stream_id)
    if holder is not None:
        return None
    return stream_id, NO_STREAM if revision is None else revision


def release_email(ctx, email: str, user_id: int) -> None:
    """Append ``EmailReleased`` to the address' uniqueness stream when ``user_id`` holds it
    (``ctx``: a :class:`commands.context.CommandContext`)."""
    if email == ERASED:
        return
    for stream_id in email_streams(ctx.store, email):
        last = ctx.store.read_stream(stream_id, -1, backwards=True, limit=1)
        if last and last[0].type != "EmailReleased" and last[0].data.get("id") == user_id:
            ctx.append(stream_id, [EmailReleased(user_id=user_id)], last[0].stream_revision)

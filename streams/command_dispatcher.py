"""The command dispatcher: sends due device commands through their gateways and records outcomes.

A plain class over events. It keeps the open commands (requested, scheduled, dispatched) in
memory, folded from the ``command-*`` events it is given (:meth:`CommandDispatcher.apply`),
and on every :meth:`CommandDispatcher.tick` acts on those that are due at the clock's time:

* due for (re)dispatch: append ``DeviceCommandDispatched`` (attempt n) with the expected
  revision, *then* hand it to the gateway (write-ahead: a restart after the append never sends
  attempt n again; if it was never sent, the missing reply leads to a retry);
* an attempt without a reply by its deadline: a retry after exponential back-off, or expiry
  when ``max_attempts`` are used; ``expires_at`` passed: expired;
* the gateway reports the device unreachable: retry after back-off; the action unsupported: failed.

Replies arrive from the gateways (any thread) through :meth:`CommandDispatcher.on_reply`.
Every decision is taken again on the stream's fresh state inside the handler
(:mod:`commands.device_commands`), so a stale cache or a second dispatcher never dispatches twice.

:meth:`run` follows the event store by itself (``command-`` streams) and ticks between reads;
on start it recovers the open commands from the commands read model (``recover``) and reads on
from that read model's checkpoint. The clock is injectable (tests, replays).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from commands.context import CommandContext
from commands.device_commands import advance_command, load_command, record_reply, record_send_result
from domain import device_commands as dc
from domain.events import RecordedEvent
from domain.ports.device_gateway import DeviceGateway, DeviceReply, OutgoingCommand, SendResult, SendStatus
from streams.append_watch import AppendWatch, Seen, StoreWatch, read_news

log = logging.getLogger(__name__)

CLOSED_REMEMBERED = 10_000
"""How many finished commands the dispatcher remembers, to skip their events without a read."""

Recover = Callable[[], tuple[int, list[str]]]
"""Returns (position up to which the read model is complete, ids of the commands open in it)."""


class CommandDispatcher:
    """Dispatches due commands through ``gateways`` (by name: ``ocpp``, ``mqtt``, ``simulated``)."""

    name = "device_dispatcher"

    def __init__(
        self,
        commands: CommandContext,
        gateways: Mapping[str, DeviceGateway],
        recover: Recover | None = None,
        workers: int = 8,
    ):
        self.commands, self.gateways, self.recover = commands, dict(gateways), recover
        self.workers = workers
        """Due commands are advanced by up to this many threads at once (their appends commit together)."""
        self._pool: ThreadPoolExecutor | None = None
        self.position = 0
        self._open: dict[uuid.UUID, tuple[dc.CommandState, int]] = {}  # id -> (state, stream revision)
        self._closed: OrderedDict[uuid.UUID, None] = OrderedDict()  # recently finished: their late events are skipped
        self._lock = threading.RLock()
        self.errors = 0
        self.appends: AppendWatch | None = None
        """How :meth:`run` hears of command events (default: every append of the store)."""
        for gateway in self.gateways.values():
            gateway.set_reply_handler(lambda reply, g=gateway.name: self.on_reply(reply, g))

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.commands.clock

    # --- following the events -------------------------------------------------------------
    def start(self) -> int:
        """Load the open commands from the read model and the store; returns the position to read on from."""
        if self.recover is None:
            return self.position
        position, open_ids = self.recover()
        for command_id in open_ids:
            self._reload(uuid.UUID(command_id))
        self.position = max(self.position, position)
        return self.position

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Fold command events into the open commands (idempotent: older revisions are skipped)."""
        for recorded in events:
            if recorded.category != "command" or recorded.type not in dc.COMMAND_EVENT_TYPES:
                continue
            command_id = uuid.UUID(str(recorded.data["command_id"]))
            with self._lock:
                known = self._open.get(command_id)
                if command_id in self._closed or (known is not None and known[1] >= recorded.stream_revision):
                    continue
                if known is None and recorded.stream_revision != 0:
                    self._reload(command_id)
                    continue
                state = dc.evolve(known[0] if known else None, recorded.decode())
                if known is not None and recorded.stream_revision != known[1] + 1:
                    self._reload(command_id)
                    continue
                self._remember(command_id, state, recorded.stream_revision)
            self.position = max(self.position, recorded.global_position)

    def _reload(self, command_id: uuid.UUID) -> None:
        state, recorded = load_command(self.commands, command_id)
        if state is not None:
            self._remember(command_id, state, recorded[-1].stream_revision)

    def _remember(self, command_id: uuid.UUID, state: dc.CommandState | None, revision: int) -> None:
        with self._lock:
            if state is None or not state.is_open:
                self._open.pop(command_id, None)
                if state is not None:
                    self._closed[command_id] = None
                    while len(self._closed) > CLOSED_REMEMBERED:
                        self._closed.popitem(last=False)
            else:
                self._open[command_id] = (state, revision)

    def open_count(self) -> int:
        with self._lock:
            return len(self._open)

    # --- acting on what is due ------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> int:
        """Act on every open command due at ``now`` (default: the clock); returns how many were acted on."""
        now = now or self.clock()
        with self._lock:
            due = [cid for cid, (state, _) in self._open.items() if state.due_at is not None and state.due_at <= now]
        if len(due) > 1 and self.workers > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="flexledger-dispatch")
            list(self._pool.map(self._advance_logged, due))
        else:
            for command_id in due:
                self._advance_logged(command_id)
        return len(due)

    def _advance_logged(self, command_id: uuid.UUID) -> None:
        try:
            self._advance(command_id)
        except Exception:  # noqa: BLE001 - logged; the command stays open and is tried on the next tick
            self.errors += 1
            log.exception("dispatching command %s failed", command_id)

    def _advance(self, command_id: uuid.UUID) -> None:
        with self._lock:
            state = self._open[command_id][0]
        gateway_name = state.requested.device.get("gateway", "")
        state, events = advance_command(self.commands, command_id, gateway_name)
        self._refresh(command_id, state, len(events))
        dispatched = [e for e in events if isinstance(e, dc.DeviceCommandDispatched)]
        if state is None or not dispatched:
            return
        attempt = dispatched[-1].attempt
        result = self._send(state, attempt, gateway_name)
        if result.status is not SendStatus.SENT:
            state, events = record_send_result(self.commands, command_id, attempt, result)
            self._refresh(command_id, state, len(events))

    def _send(self, state: dc.CommandState, attempt: int, gateway_name: str) -> SendResult:
        gateway = self.gateways.get(gateway_name)
        if gateway is None:
            return SendResult(SendStatus.UNSUPPORTED, f"no {gateway_name!r} gateway runs in this platform")
        request = state.requested
        outgoing = OutgoingCommand(
            request.command_id, attempt, request.action, request.parameters, request.device, reply_due_at=state.due_at
        )
        try:
            return gateway.send(outgoing)
        except Exception as exc:  # noqa: BLE001 - a gateway fault is a failed attempt, retried after back-off
            log.exception("gateway %s failed to send command %s", gateway_name, request.command_id)
            return SendResult(SendStatus.UNREACHABLE, f"gateway error: {exc}")

    def _refresh(self, command_id: uuid.UUID, state: dc.CommandState | None, appended: int) -> None:
        """Remember the state a handler returned (its revision is re-read: cheap, and exact)."""
        if appended == 0 and state is not None and state.is_open:
            self._reload(command_id)  # nothing to do on fresh state: our cache was stale
            return
        revision = self.commands.store.stream_revision(dc.command_stream(command_id))
        self._remember(command_id, state, -1 if revision is None else revision)

    def on_reply(self, reply: DeviceReply, gateway: str) -> None:
        """A device answered (called by a gateway, from any thread)."""
        try:
            state, events = record_reply(self.commands, reply, gateway)
        except Exception:  # noqa: BLE001 - logged: the reply is lost, the ack timeout retries the command
            self.errors += 1
            log.exception("recording the reply to command %s failed", reply.command_id)
            return
        if events:
            self._refresh(reply.command_id, state, len(events))

    # --- running on its own ---------------------------------------------------------------
    def run(self, stop: threading.Event, interval_s: float = 0.1, batch_size: int = 1000) -> None:
        """Follow the ``command-`` streams of the event store and tick until ``stop`` is set: read
        them when :attr:`appends` tells of new command events (an append of this process wakes
        at once), tick at least every ``interval_s`` seconds."""
        store, appends = self.commands.store, self.appends or StoreWatch(self.commands.store)
        position = self.start()
        seen = Seen(True, position)  # read what the read model has not seen
        while not stop.is_set():
            try:
                batch, reached, full = read_news(store, "command-", position, seen, batch_size)
                self.apply(batch)
                position = reached
                self.position = max(self.position, position)
                self.tick()
            except Exception:  # noqa: BLE001 - logged, retried after the interval
                self.errors += 1
                log.exception("command dispatcher failed; retrying")
                stop.wait(interval_s)
                continue
            if not full:
                seen = appends.wait(position, interval_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

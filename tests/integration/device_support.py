"""Helpers of the device-control tests: a world (store, account, devices), a running dispatcher,
and bounded waits on a command's status (woken by appends, never a fixed sleep)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from contextlib import contextmanager

from commands.context import CommandContext
from commands.device_commands import load_command
from streams.command_dispatcher import CommandDispatcher


def wait_for_status(ctx: CommandContext, command_id: uuid.UUID, statuses: set[str] | str, timeout_s: float = 10.0):
    """Block until the command reaches one of ``statuses`` (bounded by ``timeout_s``); returns its state."""
    wanted = {statuses} if isinstance(statuses, str) else statuses
    deadline = time.monotonic() + timeout_s
    while True:
        head = ctx.store.head_position()
        state = load_command(ctx, command_id)[0]
        if state is not None and state.status in wanted:
            return state
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"command {command_id} is {state and state.status}, not {wanted}")
        ctx.store.wait_for_append(head, min(remaining, 0.1))


async def wait_for_status_async(ctx, command_id, statuses, timeout_s: float = 10.0):
    return await asyncio.to_thread(wait_for_status, ctx, command_id, statuses, timeout_s)


@contextmanager
def running(dispatcher: CommandDispatcher, interval_s: float = 0.02):
    """Run the dispatcher (and its gateways) in a thread for the block."""
    stop = threading.Event()
    for gateway in dispatcher.gateways.values():
        gateway.start()
    thread = threading.Thread(target=dispatcher.run, args=(stop, interval_s), daemon=True)
    thread.start()
    try:
        yield dispatcher
    finally:
        stop.set()
        thread.join(10)
        for gateway in dispatcher.gateways.values():
            gateway.stop()

"""The forecaster's regressor book is bounded in memory and answers as an unbounded one would.

Synthetic data: one price-like regressor sensor, 40 days of daily 96-value posts (15 min),
each day also correcting the day before (two beliefs per slot), in an in-memory event store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commands import registry as cmd
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from infra.eventstore.memory import MemoryEventStore
from streams.forecast_inputs import RegressorBook

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
DAYS = 40
KEEP_DAYS = 3


def _sensor(ctx: CommandContext) -> int:
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="a"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="s", asset_type="building"))
    command = cmd.RegisterSensor(asset_id=asset, name="price", unit="EUR/MWh", event_resolution_s=900)
    return cmd.register_sensor(ctx, command)


def _post(ctx: CommandContext, sensor: int, day: int, offset: float) -> int:
    command = RecordSensorData(
        sensor_id=sensor,
        start=T0 + timedelta(days=day),
        duration=timedelta(days=1),
        values=[float(day * 96 + i) + offset for i in range(96)],
        unit="EUR/MWh",
        source="market",
    )
    record_sensor_data(ctx, command)
    return ctx.store.head_position()


def _day(book: RegressorBook, sensor: int, day: int, position: int) -> list:
    moments = [T0 + timedelta(days=day) + i * STEP for i in range(96)]
    return [book.value(sensor, m, position) for m in moments]


def test_bounded_book_answers_like_an_unbounded_one_and_stays_bounded() -> None:
    store = MemoryEventStore()
    ctx = CommandContext(store)
    sensor = _sensor(ctx)
    bounded = RegressorBook(store, keep_s=KEEP_DAYS * 86400)
    unbounded = RegressorBook(store, keep_s=10**12)
    most_slots = 0
    for day in range(DAYS):
        first = _post(ctx, sensor, day, 0.0)
        if day:
            _post(ctx, sensor, day - 1, 0.5)  # a correction of yesterday: a second belief per slot
        head = store.head_position()
        for book in (bounded, unbounded):
            book.new_batch()
        for ask_day, position in ((day, head + 1), (day, first), (max(0, day - 1), head + 1), (day + 1, head + 1)):
            assert _day(bounded, sensor, ask_day, position) == _day(unbounded, sensor, ask_day, position)
        most_slots = max(most_slots, bounded.slots())
    assert unbounded.slots() == DAYS * 96
    assert most_slots <= (KEEP_DAYS + 2) * 96  # the window plus the day being asked, never the history


def test_a_look_up_before_the_window_reloads_and_is_trimmed_after_the_batch() -> None:
    store = MemoryEventStore()
    ctx = CommandContext(store)
    sensor = _sensor(ctx)
    positions = [_post(ctx, sensor, day, 0.0) for day in range(DAYS)]
    corrected = _post(ctx, sensor, 2, 0.25)  # a late correction of an old day
    book = RegressorBook(store, keep_s=KEEP_DAYS * 86400)
    reference = RegressorBook(store, keep_s=10**12)
    head = store.head_position() + 1
    assert _day(book, sensor, DAYS - 1, head) == _day(reference, sensor, DAYS - 1, head)
    book.new_batch()
    assert book.slots() <= (KEEP_DAYS + 1) * 96
    for position in (positions[2], positions[3], corrected, head):  # before/after the first belief and the correction
        assert _day(book, sensor, 2, position) == _day(reference, sensor, 2, position)
    assert _day(book, sensor, 2, head)[0] == 2 * 96 + 0.25
    book.new_batch()
    assert book.slots() <= (KEEP_DAYS + 1) * 96
    assert _day(book, sensor, DAYS - 1, head) == _day(reference, sensor, DAYS - 1, head)

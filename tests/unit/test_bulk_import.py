"""Bulk import (issue #18): the column-wise CSV parser agrees with the line-by-line one, runs
split as before, and several runs per append still count new and already stored readings exactly.

Runs on the embedded SQLite event store in a temporary directory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from stores import prepared

from commands import registry as cmd
from commands.context import CommandContext
from commands.import_readings import RUNS_PER_APPEND, consecutive_runs, import_rows
from domain.readings_csv import ReadingsCsvError, _parse_line_by_line, _parse_regular, _zone, parse_readings_csv
from infra.eventstore.sqlite import SqliteEventStore

T0 = datetime(2024, 3, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)

CSVS = {
    "header": "datetime,power_kw\n2024-03-01T00:15:00+00:00,2\n2024-03-01T00:00:00+00:00,1.5\n",
    "no header, extra column, padded value": "2024-03-01T00:00:00Z, 1 ,x\n2024-03-01T00:15:00Z,-2e3\n",
    "naive with a zone": "2024-03-31T01:45:00,1\n2024-03-31T03:00:00,2\n2024-03-31T03:15:00+02:00,3\n",
    "blank line": "2024-03-01T00:00:00Z,1\n\n2024-03-01T00:15:00Z,2\n",
    "padded datetime": " 2024-03-01T00:00:00Z ,1\n",
    "offsets": "2024-03-01T01:00:00+01:00,1\n2024-03-01T00:15:00Z,2\n",
}
BAD = {
    "naive": ("2024-03-01T00:00:00,1\n", 1),
    "not finite": ("2024-03-01T00:00:00Z,nan\n", 1),
    "no value": ("t,v\n2024-03-01T00:00:00Z,1\n2024-03-01T00:15:00Z\n", 3),
    "not a number": ("2024-03-01T00:00:00Z,1\n2024-03-01T00:15:00Z,one\n", 2),
    "not a datetime": ("2024-03-01T00:00:00Z,1\nyesterday,1\n", 2),
}


@pytest.mark.parametrize("name", list(CSVS))
def test_the_column_wise_parser_agrees_with_the_line_by_line_one(name: str):
    text = CSVS[name]
    zone = "Europe/Amsterdam" if "zone" in name else None
    expected = sorted(_parse_line_by_line(text, _zone(zone)), key=lambda row: row[0])
    fast = _parse_regular(text, _zone(zone))
    if fast is not None:
        assert sorted(fast, key=lambda row: row[0]) == expected
    assert parse_readings_csv(text, zone) == expected
    assert [m.utcoffset() is not None for m, _ in expected] == [True] * len(expected)


def test_the_regular_parser_reads_the_common_file_itself():
    assert _parse_regular(CSVS["header"], None) is not None


@pytest.mark.parametrize("name", list(BAD))
def test_errors_name_their_line(name: str):
    text, line = BAD[name]
    with pytest.raises(ReadingsCsvError) as error:
        parse_readings_csv(text)
    assert error.value.line == line


def test_runs_break_at_gaps_duplicates_and_the_length_limit():
    moments = [T0 + i * QUARTER for i in (0, 1, 2, 3, 4, 6, 7, 7, 8)]
    rows = [(m, float(i)) for i, m in enumerate(moments)]
    runs = [(run.start, run.values) for run in consecutive_runs(rows, QUARTER, 3)]
    assert runs == [
        (T0, [0.0, 1.0, 2.0]), (T0 + 3 * QUARTER, [3.0, 4.0]), (T0 + 6 * QUARTER, [5.0, 6.0]),
        (T0 + 7 * QUARTER, [7.0, 8.0]),
    ]
    assert list(consecutive_runs([], QUARTER, 3)) == []


@pytest.fixture
def ctx(tmp_path):
    cmd.set_bcrypt_rounds(4)
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    yield CommandContext(store)
    store.close()


def test_a_reimport_after_an_interrupted_one_counts_exactly(ctx):
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="A"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
    sensor = cmd.register_sensor(ctx, cmd.RegisterSensor(asset_id=asset, name="p", unit="kW", event_resolution_s=900))
    runs = 2 * RUNS_PER_APPEND + 5  # runs of 3 readings, one quarter apart
    rows = [(T0 + (4 * r + i) * QUARTER, float(r)) for r in range(runs) for i in range(3)]
    interrupted = RUNS_PER_APPEND + 3  # the earlier import stored the first runs only
    first = import_rows(ctx, sensor, rows[: 3 * interrupted], "digest")
    assert (first.new, first.already_stored) == (3 * interrupted, 0)
    again = import_rows(ctx, sensor, rows, "digest")
    assert (again.read, again.new, again.already_stored) == (3 * runs, 3 * (runs - interrupted), 3 * interrupted)
    assert ctx.store.stream_revision(f"sensordata-{sensor}") == runs - 1
    last = import_rows(ctx, sensor, rows, "digest")
    assert (last.new, last.already_stored) == (0, 3 * runs)

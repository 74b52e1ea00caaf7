"""Contract of the read models: the readings and registry projections and their queries give
the same answers on every read-model database (``READ_MODEL_ADAPTERS``: SQLite, PostgreSQL).

Events go through a real SQLite event store (the store is not under test here) and are
projected with :func:`projections.base.apply_batch`, as the runner does. Small synthetic cases
always run; a few days of measured ACN Caltech charging load run when ``../shared/data`` exists.
Power values are in kW (consumption positive), energy in kWh.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from domain import registry as reg
from domain.beliefs import SensorDataRecorded, to_epoch_s
from domain.events import DomainEvent, NewEvent, RecordedEvent
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.readmodels.database import ReadModelDb
from infra.shared_data import acn_site_sessions, uncontrolled_load_kw
from projections import registry_query as rq
from projections.base import ALL_PARTITIONS, apply_batch, create_tables
from projections.readings import ReadingsProjection, readings
from projections.readings_query import BeliefFilter, beliefs_with_sources, latest_values, resampled_values
from projections.registry import RegistryProjection
from projections.replay import rebuild

T0 = datetime(2024, 5, 1, tzinfo=UTC)
S0 = to_epoch_s(T0)
QUARTER = 900
POWER, ENERGY = 1, 2
WIDE = (0, 2**40)


class Harness:
    """An in-memory event store feeding both projections into the read-model database under test."""

    def __init__(self, db: ReadModelDb, store: MemoryEventStore):
        self.db, self.store, self.position = db, store, 0
        self.checkpoints = SqlCheckpointStore(db.write_engine)
        self.checkpoints.create_tables()
        self.projections = [ReadingsProjection(), RegistryProjection()]
        for projection in self.projections:
            create_tables(db.write_engine, projection)

    def append(self, *events: DomainEvent) -> list[RecordedEvent]:
        for event in events:
            stream = f"sensordata-{event.sensor_id}" if isinstance(event, SensorDataRecorded) else "registry-1"
            self.store.append(stream, [NewEvent.of(event)])
        return self.project()

    def project(self) -> list[RecordedEvent]:
        batch = self.store.read_all(self.position, limit=100_000)
        for projection in self.projections:
            apply_batch(self.db.write_engine, projection, ALL_PARTITIONS, batch, self.checkpoints)
        self.position = batch[-1].global_position if batch else self.position
        return batch

    def q(self, query, *args, **kwargs):
        with self.db.read_engine.connect() as conn:
            return query(conn, *args, **kwargs)

    def rows(self) -> int:
        return self.q(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(readings)).scalar())


@pytest.fixture
def harness(read_models: ReadModelDb, tmp_path) -> Harness:
    store = MemoryEventStore()
    yield Harness(read_models, store)
    store.close()


def data(values, sensor=POWER, start=T0, source="meter", received=T0 + timedelta(hours=2), **kw) -> SensorDataRecorded:
    return SensorDataRecorded(
        sensor_id=sensor, start=start, resolution_s=QUARTER, values=values, unit="kW" if sensor == POWER else "kWh",
        source=source, received_at=received, **kw,
    )


def quarters(*values) -> dict[int, float]:
    return {S0 + i * QUARTER: v for i, v in enumerate(values) if v is not None}


# -- synthetic cases (always run) --------------------------------------------------------------
def test_latest_belief_per_event_and_changed_beliefs_only(harness: Harness):
    harness.append(data([1.0, 2.0, 3.0, 4.0], received=T0 + timedelta(hours=1)))
    harness.append(data([1.0, 2.0, 5.0, 4.0], received=T0 + timedelta(hours=2)))
    assert harness.q(latest_values, POWER, *WIDE) == quarters(1.0, 2.0, 5.0, 4.0)
    assert harness.rows() == 5, "only the changed value is stored again"
    harness.append(data([1.0, 2.0, 5.0, 4.0], received=T0 + timedelta(hours=3)))
    assert harness.rows() == 5, "posting the same values again adds nothing"
    harness.append(data([1.0, None, 3.0, 4.0], received=T0 + timedelta(hours=4)))
    assert harness.rows() == 6, "a different value is kept beside the old one; None is no belief"
    assert harness.q(latest_values, POWER, *WIDE) == quarters(1.0, 2.0, 3.0, 4.0)
    history = [(s, v) for s, _, _, v in harness.q(beliefs_with_sources, POWER, *WIDE) if s == S0 + 2 * QUARTER]
    assert history == [(S0 + 2 * QUARTER, 3.0), (S0 + 2 * QUARTER, 5.0), (S0 + 2 * QUARTER, 3.0)]
    assert harness.q(latest_values, POWER, S0 + QUARTER, S0 + 3 * QUARTER) == {S0 + QUARTER: 2.0, S0 + 1800: 3.0}


def test_same_values_twice_in_one_batch_are_stored_once(harness: Harness):
    events = [NewEvent.of(data([7.0, 8.0], received=T0 + timedelta(hours=h))) for h in (1, 2)]
    harness.store.append("sensordata-1", events)
    harness.project()
    assert harness.rows() == 2
    assert harness.q(latest_values, POWER, *WIDE) == quarters(7.0, 8.0)


def test_prior_time_travel(harness: Harness):
    harness.append(data([1.0, 2.0], received=T0 + timedelta(hours=1)))
    harness.append(data([1.5, 2.0], received=T0 + timedelta(hours=2)))

    def as_of(prior):
        return harness.q(latest_values, POWER, *WIDE, beliefs=BeliefFilter(prior=prior))

    assert as_of(T0 + timedelta(hours=1)) == {}, "prior is strict: beliefs formed before it"
    assert as_of(T0 + timedelta(hours=1, seconds=1)) == quarters(1.0, 2.0)
    assert as_of(T0 + timedelta(hours=2, seconds=1)) == quarters(1.5, 2.0)


def forecast_and_measurement(harness: Harness) -> None:
    """A day-ahead forecast (horizon 1 h before each event's end) and a later measurement."""
    harness.append(
        data([10.0, 11.0, 12.0, 13.0], source="forecaster", source_type="forecaster", horizon_s=3600,
             received=T0 - timedelta(days=1)),
        data([1.0, 2.0, 3.0, 4.0], source="meter", received=T0 + timedelta(hours=2)),
    )


def test_horizon_filter_is_relative_to_the_event_end(harness: Harness):
    forecast_and_measurement(harness)

    def within(horizon_s):
        return harness.q(latest_values, POWER, *WIDE, beliefs=BeliefFilter(horizon_s=horizon_s))

    assert within(3600) == quarters(10.0, 11.0, 12.0, 13.0)
    assert within(3601) == {}
    assert within(0) == quarters(10.0, 11.0, 12.0, 13.0), "measurements after the fact have negative horizons"
    # the measurement at T0+2h is 1h45 after the first event's end, 1h after the last one's
    assert within(-3600) == quarters(10.0, 11.0, 12.0, 4.0)
    assert within(-7200) == quarters(1.0, 2.0, 3.0, 4.0)


def test_source_filter(harness: Harness):
    forecast_and_measurement(harness)

    def by(**kw):
        return harness.q(latest_values, POWER, *WIDE, beliefs=BeliefFilter(**kw))

    assert by() == quarters(1.0, 2.0, 3.0, 4.0)
    assert by(sources=["forecaster"]) == quarters(10.0, 11.0, 12.0, 13.0)
    assert by(source_types=["forecaster"]) == quarters(10.0, 11.0, 12.0, 13.0)
    assert by(sources=["meter"], source_types=["user"]) == quarters(1.0, 2.0, 3.0, 4.0)
    assert by(sources=["nobody"]) == {}
    names = {name for _, _, name, _ in harness.q(beliefs_with_sources, POWER, *WIDE)}
    assert names == {"forecaster", "meter"}


def test_resample_mean_for_power_and_sum_for_energy(harness: Harness):
    harness.append(
        data([1.0, 2.0, 5.0, 4.0, 8.0, None, 6.0, 7.0]),
        data([0.25, 0.5, 1.25, 1.0, 2.0, 2.0, 1.5, 1.75], sensor=ENERGY),
    )
    hour = 3600
    assert harness.q(resampled_values, POWER, S0, S0 + 2 * hour, hour, "mean") == {S0: 3.0, S0 + hour: 7.0}
    assert harness.q(resampled_values, ENERGY, S0, S0 + 2 * hour, hour, "sum") == {S0: 3.0, S0 + hour: 7.25}
    # buckets start at the requested start, not at an epoch-aligned boundary
    assert harness.q(resampled_values, POWER, S0 + QUARTER, S0 + 2 * hour, 1800, "mean") == {
        S0 + QUARTER: 3.5, S0 + 3 * QUARTER: 6.0, S0 + 5 * QUARTER: 6.0, S0 + 7 * QUARTER: 7.0,
    }


@pytest.mark.parametrize(
    "priors_and_values",
    [
        [(10, 1.0), (9, 2.0), (11, 1.0)],  # a late-arriving older belief, then the latest value again
        [(10, 1.0), (10, 2.0), (11, 2.0)],  # a second value for the same belief time is ignored
    ],
    ids=["older-belief-arrives-late", "same-belief-time-twice"],
)
def test_changed_beliefs_only_compares_with_the_latest_belief_time(harness: Harness, priors_and_values):
    """One event at a time and all in one batch (a rebuild) must store the same beliefs."""
    for hours, value in priors_and_values:
        harness.append(data([value], prior=T0 + timedelta(hours=hours)))
    incremental = harness.q(beliefs_with_sources, POWER, *WIDE)
    rebuild(harness.store, harness.db.write_engine, harness.projections[0], harness.checkpoints)
    assert harness.q(beliefs_with_sources, POWER, *WIDE) == incremental


class FailingReadings(ReadingsProjection):
    """Writes its rows, then fails: neither rows nor checkpoint may survive."""

    def apply(self, conn, events):
        super().apply(conn, events)
        raise RuntimeError("crash after writing rows")


def test_rows_and_checkpoint_commit_together(harness: Harness):
    harness.store.append("sensordata-1", [NewEvent.of(data([1.0, 2.0]))])
    batch = harness.store.read_all(0)
    engine, checkpoints = harness.db.write_engine, harness.checkpoints
    with pytest.raises(RuntimeError):
        apply_batch(engine, FailingReadings(), ALL_PARTITIONS, batch, checkpoints)
    assert harness.rows() == 0
    assert checkpoints.load("readings") == {}
    last = batch[-1].global_position
    assert apply_batch(engine, ReadingsProjection(), ALL_PARTITIONS, batch, checkpoints) == last
    assert apply_batch(engine, ReadingsProjection(), ALL_PARTITIONS, batch, checkpoints) == last
    assert apply_batch(engine, ReadingsProjection(), "partition-0", batch, checkpoints) == last
    assert harness.rows() == 2, "applying the same events again adds nothing"
    assert checkpoints.load("readings") == {ALL_PARTITIONS: last}


def registry_events() -> list[DomainEvent]:
    return [
        reg.AccountRegistered(account_id=1, name="Caltech", roles=["Prosumer"]),
        reg.AccountRegistered(account_id=2, name="JPL"),
        reg.UserRegistered(user_id=1, account_id=1, email="ann@example.org", username="ann",
                           roles=["admin"]),
        reg.UserPasswordChanged(user_id=1),
        reg.UserChanged(user_id=1, changes={"timezone": "UTC"}),
        reg.AssetRegistered(asset_id=1, account_id=1, name="Site", asset_type="charge_site", latitude=34.1,
                            longitude=-118.1, attributes={"capacity_in_mw": 0.5}),
        reg.AssetRegistered(asset_id=2, account_id=1, name="EVSE 1", asset_type="one-way_evse", parent_asset_id=1),
        reg.AssetRegistered(asset_id=3, account_id=2, name="Gone", asset_type="battery"),
        reg.SensorRegistered(sensor_id=POWER, asset_id=1, name="load", unit="kW", event_resolution_s=QUARTER),
        reg.SensorRegistered(sensor_id=ENERGY, asset_id=1, name="energy", unit="kWh", event_resolution_s=QUARTER),
        reg.SensorRegistered(sensor_id=3, asset_id=3, name="soc", unit="%", event_resolution_s=0),
        reg.SensorRegistered(sensor_id=4, asset_id=2, name="old", unit="kW", event_resolution_s=60),
        reg.AssetChanged(asset_id=2, changes={"name": "EVSE A", "attributes": {"max_kw": 6.6}}),
        reg.SensorChanged(sensor_id=ENERGY, changes={"name": "energy (kWh)", "timezone": "America/Los_Angeles"}),
        reg.SensorDeleted(sensor_id=4),
        reg.AssetDeleted(asset_id=3),
    ]


def test_registry_projection(harness: Harness):
    harness.append(*registry_events())
    assert [(a["id"], a["name"], a["roles"]) for a in harness.q(rq.list_accounts)] == [
        (1, "Caltech", ["Prosumer"]), (2, "JPL", []),
    ]
    user = harness.q(rq.user_by_email, "ann@example.org")
    assert (user["id"], user["timezone"], user["roles"], user["active"]) == (1, "UTC", ["admin"], True)
    assert [(a["id"], a["name"], a["parent_asset_id"]) for a in harness.q(rq.list_assets)] == [
        (1, "Site", None), (2, "EVSE A", 1),
    ]
    assert harness.q(rq.asset_by_id, 1)["attributes"] == {"capacity_in_mw": 0.5}
    assert harness.q(rq.asset_by_id, 2)["attributes"] == {"max_kw": 6.6}
    assert harness.q(rq.asset_by_id, 3) is None
    assert [(s["id"], s["name"], s["account_id"]) for s in harness.q(rq.list_sensors, account_id=1)] == [
        (POWER, "load", 1), (ENERGY, "energy (kWh)", 1),
    ]
    assert harness.q(rq.sensor_by_id, ENERGY)["timezone"] == "America/Los_Angeles"
    assert harness.q(rq.sensor_by_id, 3) is None and harness.q(rq.sensor_by_id, 4) is None


def snapshot(harness: Harness, sensors=(POWER, ENERGY), window=WIDE) -> dict:
    """Every query's answer, for comparing databases and rebuilds."""
    start, end = window
    out: dict = {"registry": [harness.q(rq.list_accounts), harness.q(rq.list_users), harness.q(rq.list_assets),
                              harness.q(rq.list_sensors)]}
    for sensor in sensors:
        out[sensor] = {
            "latest": harness.q(latest_values, sensor, start, end),
            "beliefs": harness.q(beliefs_with_sources, sensor, start, end),
            "forecasts": harness.q(latest_values, sensor, start, end, beliefs=BeliefFilter(horizon_s=0)),
            "hourly": harness.q(resampled_values, sensor, start, end, 3600, "mean" if sensor == POWER else "sum"),
        }
    return out


def synthetic_scenario(harness: Harness) -> None:
    harness.append(*registry_events())
    forecast_and_measurement(harness)
    harness.append(data([1.0, 2.5, 3.0, 4.0, 6.0], received=T0 + timedelta(hours=3)))
    harness.append(data([0.25, 0.5, 0.75], sensor=ENERGY), data([0.25, 0.5, 0.8], sensor=ENERGY, received=T0))


def test_rebuild_yields_identical_query_results(harness: Harness):
    synthetic_scenario(harness)
    before = snapshot(harness)
    for projection in harness.projections:
        rebuild(harness.store, harness.db.write_engine, projection, harness.checkpoints, batch_size=3)
    assert snapshot(harness) == before
    head = harness.store.head_position()
    assert harness.checkpoints.load("readings") == {ALL_PARTITIONS: head}


@pytest.mark.postgres
def test_sqlite_and_postgres_answer_identically(tmp_path, read_models_pair):
    answers = []
    for db in read_models_pair.values():
        store = MemoryEventStore()
        harness = Harness(db, store)
        synthetic_scenario(harness)
        answers.append(snapshot(harness))
        store.close()
    assert answers[0] == answers[1]


# -- real data: a few days of ACN Caltech charging load ----------------------------------------
ACN_START = datetime(2019, 5, 6, tzinfo=UTC)
ACN_DAYS = 3


@functools.lru_cache(maxsize=1)
def acn_load_kw(folder) -> np.ndarray:
    """Measured uncontrolled charging load of Caltech, 15-min means (kW), ``ACN_DAYS`` days."""
    sessions = acn_site_sessions(folder, "caltech")
    end = ACN_START + timedelta(days=ACN_DAYS)
    return uncontrolled_load_kw(sessions, ACN_START, end, timedelta(seconds=QUARTER))


def acn_scenario(harness: Harness, load_kw: np.ndarray) -> None:
    """Per day: a naive day-ahead forecast (yesterday's load, formed 12 h before), then the
    measurement (1 h after the day); the energy sensor gets kWh per quarter."""
    per_day = 96
    for day in range(ACN_DAYS):
        start = ACN_START + timedelta(days=day)
        measured = [float(v) for v in load_kw[day * per_day : (day + 1) * per_day]]
        if day:
            yesterday = [float(v) for v in load_kw[(day - 1) * per_day : day * per_day]]
            harness.append(data(yesterday, start=start, source="naive", source_type="forecaster",
                                prior=start - timedelta(hours=12), received=start - timedelta(hours=12)))
        received = start + timedelta(days=1, hours=1)
        harness.append(
            data(measured, start=start, source="acn", received=received),
            data([v * 0.25 for v in measured], sensor=ENERGY, start=start, source="acn", received=received),
        )


@pytest.mark.shared_data
def test_acn_charging_load_queries(harness: Harness, shared_data):
    load = acn_load_kw(shared_data)
    acn_scenario(harness, load)
    s0, n = to_epoch_s(ACN_START), len(load)
    end = s0 + n * QUARTER
    starts = [s0 + i * QUARTER for i in range(n)]
    assert harness.q(latest_values, POWER, s0, end) == dict(zip(starts, load.tolist(), strict=True))
    hourly = harness.q(resampled_values, POWER, s0, end, 3600, "mean")
    assert list(hourly) == starts[::4]
    assert list(hourly.values()) == pytest.approx(load.reshape(-1, 4).mean(axis=1).tolist(), rel=1e-12, abs=1e-12)
    daily_kwh = harness.q(resampled_values, ENERGY, s0, end, 86_400, "sum")
    assert list(daily_kwh.values()) == pytest.approx((load.reshape(ACN_DAYS, -1).sum(axis=1) * 0.25).tolist())
    forecasts = harness.q(latest_values, POWER, s0, end, beliefs=BeliefFilter(horizon_s=6 * 3600))
    assert forecasts == dict(zip(starts[96:], load[:-96].tolist(), strict=True))
    day2_early = BeliefFilter(prior=ACN_START + timedelta(days=1, hours=2))
    as_of_day2 = harness.q(latest_values, POWER, s0, end, beliefs=day2_early)
    expected = dict(zip(starts[:96], load[:96].tolist(), strict=True))
    expected.update(zip(starts[96:192], load[:96].tolist(), strict=True))
    assert as_of_day2 == expected
    assert harness.q(latest_values, POWER, s0, end, beliefs=BeliefFilter(sources=["naive"])) == forecasts

    rows = harness.rows()
    day2 = ACN_START + timedelta(days=1)
    revised = [float(v) for v in load[96:192]]
    harness.append(data(revised, start=day2, source="acn", received=day2 + timedelta(days=2)))
    assert harness.rows() == rows, "re-posting the same measurement stores nothing"
    revised[40:45] = [v + 1.0 for v in revised[40:45]]
    harness.append(data(revised, start=day2, source="acn", received=day2 + timedelta(days=3)))
    assert harness.rows() == rows + 5
    assert harness.q(latest_values, POWER, starts[96], starts[191] + QUARTER) == dict(
        zip(starts[96:192], revised, strict=True)
    )

    before = snapshot(harness, window=(s0, end))
    for projection in harness.projections:
        rebuild(harness.store, harness.db.write_engine, projection, harness.checkpoints)
    assert snapshot(harness, window=(s0, end)) == before


@pytest.mark.shared_data
@pytest.mark.postgres
def test_acn_answers_identical_on_sqlite_and_postgres(tmp_path, read_models_pair, shared_data):
    load = acn_load_kw(shared_data)
    window = (to_epoch_s(ACN_START), to_epoch_s(ACN_START) + len(load) * QUARTER)
    answers = []
    for db in read_models_pair.values():
        store = MemoryEventStore()
        harness = Harness(db, store)
        acn_scenario(harness, load)
        answers.append(snapshot(harness, window=window))
        store.close()
    for sensor in (POWER, ENERGY):
        sqlite_answer, postgres_answer = answers[0][sensor], answers[1][sensor]
        for query in ("latest", "beliefs", "forecasts"):
            assert sqlite_answer[query] == postgres_answer[query]
        assert list(sqlite_answer["hourly"]) == list(postgres_answer["hourly"])
        assert list(sqlite_answer["hourly"].values()) == pytest.approx(list(postgres_answer["hourly"].values()))

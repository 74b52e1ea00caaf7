"""Charge sessions from events: the Caltech import, late and repeated readings, replay."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from ev_support import make_evse, meter, plug
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from test_api_support import ALICE, ApiHarness

from commands import registry as reg
from commands.ev import record_session_event
from domain import ev
from infra.bootstrap import build_platform
from infra.checkpoints import SqlCheckpointStore
from infra.session_import import import_sessions
from infra.settings import Settings
from projections.base import ALL_PARTITIONS, apply_batch, reset
from projections.charge_sessions import ChargeSessionsProjection, charge_sessions
from projections.replay import rebuild

T0 = datetime(2019, 9, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def platform(tmp_path: Path):
    platform = build_platform(
        Settings(home=tmp_path, event_store="sqlite", log="memory", read_models="sqlite", bcrypt_rounds=4)
    )
    platform.start()
    yield platform
    platform.close()


@pytest.fixture
def pg_platform(tmp_path: Path):
    """The same platform with the event store and the read models on PostgreSQL."""
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        platform = build_platform(
            Settings(
                home=tmp_path,
                event_store="postgres",
                log="memory",
                read_models="postgres",
                postgres_url=url,
                bcrypt_rounds=4,
            )
        )
        platform.start()
        yield platform
        platform.close()


BOTH = [pytest.param("platform", id="sqlite"), pytest.param("pg_platform", id="postgres", marks=pytest.mark.postgres)]


def _sessions(platform) -> list[dict]:
    assert platform.wait_for(platform.store.head_position(), ["projection.charge_sessions"], timeout_s=120)
    with platform.read_models.read_engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(charge_sessions).order_by(charge_sessions.c.id)).mappings()]


def caltech_subset(shared_data: Path, tmp_path: Path) -> Path:
    """Caltech (ACN-Data) sessions arriving 2019-09-01..2019-09-14 (local time), all columns, as in the file."""
    source = shared_data / "acn" / "caltech_2019-09-01_2019-12-31.csv"
    target = tmp_path / "caltech_2019-09-01_14.csv"
    with source.open() as src, target.open("w", newline="") as dst:
        rows = csv.reader(src)
        out = csv.writer(dst)
        out.writerow(next(rows))
        out.writerows(r for r in rows if r[0] < "2019-09-15")
    return target


@pytest.mark.shared_data
def test_caltech_import_matches_the_file_and_is_idempotent(platform, shared_data: Path, tmp_path: Path) -> None:
    path = caltech_subset(shared_data, tmp_path)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    expected_kwh = sum(float(r["delivered_energy (kWh)"]) for r in rows)
    ctx = platform.commands
    account = reg.register_account(ctx, reg.RegisterAccount(name="Caltech"))
    assert import_sessions(ctx, account, path) == len(rows) > 300
    sessions = _sessions(platform)
    assert len(sessions) == len(rows)
    assert sum(s["energy_kwh"] for s in sessions) == pytest.approx(expected_kwh, abs=1e-6)
    per_station: dict[str, float] = {}
    for row in rows:
        per_station[row["station_id"]] = per_station.get(row["station_id"], 0.0) + float(row["delivered_energy (kWh)"])
    by_asset: dict[int, float] = {}
    for s in sessions:
        by_asset[s["evse_asset_id"]] = by_asset.get(s["evse_asset_id"], 0.0) + s["energy_kwh"]
    # per EVSE too (per session only where no two sessions of a station share a 15-minute slot)
    assert sorted(round(v, 6) for v in by_asset.values()) == sorted(round(v, 6) for v in per_station.values())
    for s in sessions:
        assert sum(s[f"energy_{p}_kwh"] for p in ev.TARIFF_PERIODS) == pytest.approx(s["energy_kwh"])

    head = platform.store.head_position()
    import_sessions(ctx, account, path)
    assert platform.store.head_position() == head  # nothing stored twice

    engine = platform.read_models.write_engine
    platform.stop()
    rebuild(platform.store, engine, ChargeSessionsProjection(), platform.checkpoints)
    with engine.connect() as conn:
        rebuilt = [dict(r) for r in conn.execute(sa.select(charge_sessions).order_by(charge_sessions.c.id)).mappings()]
    assert [{**r, "energy_kwh": round(r["energy_kwh"], 9)} for r in rebuilt] == [
        {**r, "energy_kwh": round(r["energy_kwh"], 9)} for r in sessions
    ]


@pytest.mark.parametrize("backend", BOTH)
def test_late_repeated_and_corrected_readings_count_once(backend: str, request) -> None:
    platform = request.getfixturevalue(backend)
    ctx = platform.commands
    account = reg.register_account(ctx, reg.RegisterAccount(name="A"))
    asset_id, sensor_id = make_evse(ctx, account)
    meter(ctx, sensor_id, T0, [1.0, 2.0])  # readings before the plug-in event arrives
    session = plug(ctx, asset_id, T0 + timedelta(minutes=3), soc_kwh=10.0, range_km=60)
    record_session_event(ctx, ev.ChargingStarted(session_id=session, at=T0 + timedelta(minutes=3)))
    meter(ctx, sensor_id, T0, [1.0, 2.0])  # the same readings again (another event id)
    meter(ctx, sensor_id, T0 + timedelta(minutes=30), [1.5])
    meter(ctx, sensor_id, T0 + timedelta(minutes=30), [0.5], prior=T0)  # an older belief: ignored
    meter(ctx, sensor_id, T0 + timedelta(minutes=15), [2.5])  # a correction (a newer belief)
    record_session_event(ctx, ev.EvPluggedOut(session_id=session, at=T0 + timedelta(minutes=40), soc_kwh=15))
    meter(ctx, sensor_id, T0 + timedelta(minutes=45), [3.0])  # after the plug-out: not this session's
    [row] = _sessions(platform)
    assert row["energy_kwh"] == pytest.approx(1.0 + 2.5 + 1.5)
    assert row["energy_t1_kwh"] == pytest.approx(5.0)  # Monday morning UTC
    assert (row["soc_start_kwh"], row["soc_end_kwh"], row["range_start_km"]) == (10.0, 15.0, 60.0)
    assert row["state"] == "not_connected" and row["end_s"] == int((T0 + timedelta(minutes=40)).timestamp())

    # replaying every event again (as after a crash before the checkpoint) changes nothing
    engine = platform.read_models.write_engine
    platform.stop()
    events = platform.store.read_all(0, 10_000)
    reset(engine, ChargeSessionsProjection(), platform.checkpoints)
    apply_batch(engine, ChargeSessionsProjection(), ALL_PARTITIONS, events, platform.checkpoints)
    projection = ChargeSessionsProjection()
    with engine.begin() as conn:
        projection.apply(conn, [e for e in events if e.type in projection.event_types])
        again = dict(conn.execute(sa.select(charge_sessions)).mappings().one())
    assert again["energy_kwh"] == pytest.approx(row["energy_kwh"])


@pytest.mark.parametrize("backend", BOTH)
def test_a_new_session_takes_the_slots_after_its_start(backend: str, request) -> None:
    platform = request.getfixturevalue(backend)
    ctx = platform.commands
    account = reg.register_account(ctx, reg.RegisterAccount(name="A"))
    asset_id, sensor_id = make_evse(ctx, account)
    first = plug(ctx, asset_id, T0)  # never plugged out (a lost message)
    meter(ctx, sensor_id, T0, [1.0, 1.0, 1.0, 1.0])
    second = plug(ctx, asset_id, T0 + timedelta(minutes=30), hours=1)
    rows = {r["id"]: r for r in _sessions(platform)}
    assert rows[str(first)]["energy_kwh"] == pytest.approx(2.0)
    assert rows[str(second)]["energy_kwh"] == pytest.approx(2.0)
    assert uuid.UUID(rows[str(second)]["id"]) == second


@pytest.mark.shared_data
def test_trondheim_import_matches_the_file(platform, shared_data: Path, tmp_path: Path) -> None:
    """The first 200 Trondheim sessions plus every session without a plug-out (``NA``: still plugged in)."""
    lines = (shared_data / "norway" / "trondheim_sessions.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [lines[0], *lines[1:201], *(line for line in lines[201:] if line.split(";")[7] == "NA")]
    path = tmp_path / "trondheim_subset.csv"
    path.write_text("\n".join(rows) + "\n")
    expected_kwh = sum(float(line.split(";")[9].replace(",", ".")) for line in rows[1:])
    ctx = platform.commands
    account = reg.register_account(ctx, reg.RegisterAccount(name="Trondheim"))
    assert import_sessions(ctx, account, path) == len(rows) - 1
    sessions = _sessions(platform)
    assert len(sessions) == len(rows) - 1
    assert sum(s["energy_kwh"] for s in sessions) == pytest.approx(expected_kwh, abs=1e-6)
    still_plugged = [s for s in sessions if s["end_s"] is None]
    assert len(still_plugged) == len(rows) - 201 > 0
    assert all(s["state"] == "connected" for s in still_plugged)


def test_evse_rules_and_changes(platform) -> None:
    from commands.context import CommandError
    from commands.ev import change_evse, register_evse

    ctx = platform.commands
    account = reg.register_account(ctx, reg.RegisterAccount(name="A"))
    other = reg.register_account(ctx, reg.RegisterAccount(name="B"))
    site = reg.register_asset(ctx, reg.RegisterAsset(account_id=account, name="Site", asset_type="charge_site"))
    with pytest.raises(CommandError, match="charge_site"):
        register_evse(ctx, ev.EvseRegistered(asset_id=site, account_id=account))
    asset_id, _ = make_evse(ctx, account)
    with pytest.raises(CommandError) as twice:
        register_evse(ctx, ev.EvseRegistered(asset_id=asset_id, account_id=account))
    assert twice.value.code == "EVSE_EXISTS"
    with pytest.raises(CommandError):
        change_evse(ctx, asset_id, other, {"firmware_version": "2.0"})
    with pytest.raises(CommandError):
        change_evse(ctx, asset_id, account, {"account_id": other})
    change_evse(ctx, asset_id, account, {"firmware_version": "2.0", "timezone": "Europe/Oslo"})
    assert platform.wait_for(platform.store.head_position(), timeout_s=60)
    from projections.ev_registry import evses

    with platform.read_models.read_engine.connect() as conn:
        assert conn.execute(sa.select(evses.c.firmware_version).where(evses.c.id == asset_id)).scalar_one() == "2.0"


def test_sessions_before_their_evse_registration_are_adopted() -> None:
    """Another log partition may deliver a plug-in before the EVSE's registration."""
    from datetime import datetime as dt

    from domain.events import EventMetadata, RecordedEvent

    session = uuid.uuid4()
    engine = sa.create_engine("sqlite://")
    projection = ChargeSessionsProjection()
    checkpoints = SqlCheckpointStore(engine)
    checkpoints.create_tables()
    reset(engine, projection, checkpoints)

    def recorded(position: int, event) -> RecordedEvent:
        return RecordedEvent(
            event_id=uuid.uuid4(),
            stream_id=f"s-{position}",
            stream_revision=0,
            global_position=position,
            type=event.event_type,
            schema_version=1,
            data=event.to_data(),
            metadata=EventMetadata(recorded_at=dt.now(UTC)),
        )

    plugged = ev.EvPluggedIn(session_id=session, evse_asset_id=7, at=T0)
    registered = ev.EvseRegistered(asset_id=7, account_id=3, energy_sensor_id=70)
    apply_batch(engine, projection, "p1", [recorded(5, plugged)], checkpoints)
    apply_batch(engine, projection, "p0", [recorded(2, registered)], checkpoints)
    with engine.connect() as conn:
        assert conn.execute(sa.select(charge_sessions.c.account_id)).scalar_one() == 3


@pytest.mark.shared_data
def test_caltech_sessions_are_served_alike_by_finesce_and_realto(shared_data: Path, tmp_path: Path) -> None:
    """The imported Caltech subset, walked page by page through both APIs: the file's count and
    total energy in each, and every session with the same energy in both."""
    path = caltech_subset(shared_data, tmp_path)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    expected_kwh = sum(float(r["delivered_energy (kWh)"]) for r in rows)
    with ApiHarness(tmp_path / "api") as api:
        import_sessions(api.platform.commands, api.world.accounts["Alpha"], path)
        assert api.platform.wait_for(api.head(), timeout_s=120)
        finesce, offset = {}, 0
        while True:
            params = {"auth_token": api.token(ALICE), "limit": 1000, "offset": offset, "sort": "asc"}
            records = api.client.get("/api/v2/evevseconnections", params=params).json()["records"]
            finesce.update({(r["evse_id"], r["start"][:19]): float(r["connection_total_kwh"]) for r in records})
            offset += 1000
            if len(records) < 1000:
                break
        realto = {}
        for evse in {evse for evse, _ in finesce}:
            url = f"/api/v1/entities/{evse}/charge-sessions?pageSize=1000"
            while url:
                page = api.client.get(url, headers=api.auth()).json()
                realto.update(
                    {(evse, s["data"]["start"][:19]): s["data"]["charge"]["total"]["total"] for s in page["data"]}
                )
                url = page["links"]["next"]
    assert len(finesce) == len(realto) == len(rows)
    assert sum(finesce.values()) == pytest.approx(expected_kwh, abs=1e-4)  # FINESCE decimals: 8 places
    assert sum(realto.values()) == pytest.approx(expected_kwh, abs=1e-6)
    assert finesce.keys() == realto.keys()
    for key, energy in realto.items():
        assert finesce[key] == pytest.approx(energy, abs=1e-7), key

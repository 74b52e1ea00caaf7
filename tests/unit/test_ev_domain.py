"""EV domain rules without I/O: session decisions, the tariff split, the importer's energy profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest

from domain import ev
from infra.session_import import ImportedSession, slot_energies, station_readings

T0 = datetime(2019, 9, 2, 8, 5, tzinfo=UTC)
SID = uuid.UUID(int=1)


def _fold(events):
    return reduce(ev.evolve_session, events, None)


def test_session_lifecycle_and_rules() -> None:
    plug_in = ev.EvPluggedIn(session_id=SID, evse_asset_id=3, at=T0)
    assert ev.decide_session(None, plug_in) == [plug_in]
    state = _fold([plug_in, ev.ChargingStarted(session_id=SID, at=T0)])
    assert state.state == "charging"
    assert ev.decide_session(state, plug_in) == []  # a resent plug-in decides nothing
    with pytest.raises(ev.EvDomainError) as before:
        ev.decide_session(state, ev.ChargingStopped(session_id=SID, at=T0 - timedelta(minutes=1)))
    assert before.value.code == "BEFORE_PLUG_IN"
    out = ev.EvPluggedOut(session_id=SID, at=T0 + timedelta(hours=2))
    ended = _fold([plug_in, out])
    assert ended.ended_at == out.at and ev.decide_session(ended, out) == []
    with pytest.raises(ev.EvDomainError) as after:
        ev.decide_session(ended, ev.ChargingStarted(session_id=SID, at=T0 + timedelta(hours=3)))
    assert after.value.code == "SESSION_ENDED"
    with pytest.raises(ev.EvDomainError):
        ev.decide_session(None, out)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ev.EvPluggedIn(session_id=SID, evse_asset_id=3, at=datetime(2019, 9, 2, 8))


def test_default_tariff_split_uses_local_time() -> None:
    split = ev.TimeOfUseSplit()
    monday_noon_la = int(datetime(2019, 9, 2, 19, tzinfo=UTC).timestamp())  # 12:00 in Los Angeles
    assert split.period_of(monday_noon_la, "America/Los_Angeles") == "t1"
    assert split.period_of(monday_noon_la + 12 * 3600, "America/Los_Angeles") == "t2"  # Tuesday 00:00
    saturday_noon = int(datetime(2019, 9, 7, 12, tzinfo=UTC).timestamp())
    assert split.period_of(saturday_noon) == "t3"
    assert split.period_of(saturday_noon + 12 * 3600) == "t4"


def test_slot_energies_sum_to_the_row_and_follow_the_power() -> None:
    row = ImportedSession("CA-1", "s1", T0, T0 + timedelta(hours=8), 10.123)
    slots = slot_energies(row)
    assert sum(slots.values()) == pytest.approx(10.123, abs=1e-12)
    assert min(slots) == int(datetime(2019, 9, 2, 8, tzinfo=UTC).timestamp())
    assert max(slots.values()) <= 6.6 / 4 + 1e-9  # at most 6.6 kW over 15 minutes


def test_a_shared_slot_goes_to_the_later_session_with_both_energies() -> None:
    first = ImportedSession("CA-1", "a", T0, T0 + timedelta(minutes=2), 0.2)  # slot 08:00-08:15
    second = ImportedSession("CA-1", "b", T0 + timedelta(minutes=5), T0 + timedelta(hours=1), 1.0)
    owned_first, owned_second = station_readings([first, second])
    assert owned_first == {}
    assert sum(owned_second.values()) == pytest.approx(1.2)

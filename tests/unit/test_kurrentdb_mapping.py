"""KurrentDB adapter without a server: the pure mapping functions, and the adapter's logic
against a small in-process fake of the ``kurrentdbclient`` calls it uses.

The fake follows the client's documented behaviour (README of kurrentdbclient 1.3): commit
positions are byte offsets (not 1..N), reading ``$all`` forwards from a commit position
includes that event and needs an existing position, system events are excluded unless an
include filter is given, an append whose ids are already at the expected position succeeds
with the stored commit position. The real server is covered by ``tests/contract`` when
``FLEXLEDGER_TEST_KURRENTDB_URL`` is set.
"""

from __future__ import annotations

import re
import sys
import threading
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from kurrentdbclient import NewEvent as KdbNewEvent
from kurrentdbclient import RecordedEvent as KdbRecordedEvent
from kurrentdbclient import StreamState
from kurrentdbclient.common import construct_filter_include_regex
from kurrentdbclient.exceptions import (
    DiscoveryFailedError,
    GrpcDeadlineExceededError,
    InvalidCommitPositionError,
    NotFoundError,
    ServiceUnavailableError,
    WrongCurrentVersionError,
)

from domain.beliefs import SensorDataRecorded
from domain.events import EventMetadata, NewEvent
from domain.ports.event_store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    WrongExpectedRevision,
    subscribe,
)
from infra.eventstore.kurrentdb import (
    NEVER,
    KurrentDbEventStore,
    actual_revision,
    append_outcome,
    from_kurrent_event,
    to_kurrent_event,
    to_stream_state,
    type_filter,
)


# -- pure mapping ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(ANY, StreamState.ANY), (NO_STREAM, StreamState.NO_STREAM), (STREAM_EXISTS, StreamState.EXISTS), (0, 0), (7, 7)],
)
def test_expected_revision_mapping(ours, theirs):
    assert to_stream_state(ours) == theirs


def test_expected_revision_rejects_nonsense():
    assert to_stream_state(-1) is NEVER
    with pytest.raises(ValueError):
        to_stream_state("latest")
    with pytest.raises(ValueError):
        to_stream_state(1.5)  # type: ignore[arg-type]


def test_actual_revision_from_wrong_current_version():
    assert actual_revision(WrongCurrentVersionError("x", actual_version=StreamState.NO_STREAM)) is None
    assert actual_revision(WrongCurrentVersionError("x", actual_version=-1)) is None
    assert actual_revision(WrongCurrentVersionError("x", actual_version=4)) == 4


def _new_event(traceparent: str | None = None, **data) -> NewEvent:
    reading = SensorDataRecorded(
        sensor_id=data.get("sensor_id", 3),
        start=datetime(2025, 3, 1, tzinfo=UTC),
        resolution_s=900,
        values=[1.0, None, 2.5],
        unit="kW",
        source="meter",
        received_at=datetime(2025, 3, 1, 1, tzinfo=UTC),
    )
    meta = EventMetadata(actor="ann", correlation_id="c-1", traceparent=traceparent)
    return NewEvent.of(reading, meta)


def _new_event_with_id(event_id: uuid.UUID) -> NewEvent:
    return _new_event().model_copy(update={"event_id": event_id})


def _recorded(
    kdb: KdbNewEvent, stream: str = "sensordata-3", revision: int = 4, position: int = 9_876
) -> KdbRecordedEvent:
    return KdbRecordedEvent(
        type=kdb.type,
        data=kdb.data,
        metadata=kdb.metadata,
        content_type=kdb.content_type,
        id=kdb.id,
        stream_name=stream,
        stream_position=revision,
        commit_position=position,
        prepare_position=position,
        recorded_at=datetime(2025, 3, 2, tzinfo=UTC),
    )


def test_new_event_to_kurrentdb():
    event = _new_event(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    kdb = to_kurrent_event(event)
    assert kdb.id == event.event_id and kdb.type == "SensorDataRecorded"
    assert kdb.content_type == "application/json"
    assert orjson.loads(kdb.data) == event.data
    meta = orjson.loads(kdb.metadata)
    assert meta["schema_version"] == "2" and meta["traceparent"] == event.metadata.traceparent
    assert all(isinstance(v, str) for v in meta.values())  # KurrentDB 25+: string-valued metadata


def test_round_trip_through_recorded_event():
    event = _new_event()
    recorded = from_kurrent_event(_recorded(to_kurrent_event(event)))
    assert (recorded.event_id, recorded.stream_id, recorded.type) == (event.event_id, "sensordata-3", event.type)
    assert (recorded.stream_revision, recorded.global_position, recorded.schema_version) == (4, 9_876, 2)
    assert recorded.data == event.data and recorded.metadata == event.metadata
    assert recorded.decode() == SensorDataRecorded.model_validate(event.data)


def test_foreign_event_without_metadata_gets_server_time_and_version_1():
    kdb = KdbNewEvent(type="SensorDataRecorded", data=b'{"a": 1}', metadata=b"")
    recorded = from_kurrent_event(_recorded(kdb))
    assert recorded.schema_version == 1
    assert recorded.metadata.recorded_at == datetime(2025, 3, 2, tzinfo=UTC)


def test_type_filter_matches_exact_types_only():
    regex = construct_filter_include_regex([type_filter(["SensorDataRecorded", "AccountRegistered"])])
    assert re.match(regex, "SensorDataRecorded") and re.match(regex, "AccountRegistered")
    assert not re.match(regex, "SensorDataRecordedV2") and not re.match(regex, "XAccountRegistered")


def test_append_outcome():
    prior = from_kurrent_event(_recorded(to_kurrent_event(_new_event()), revision=4, position=500))
    assert append_outcome(4, prior, 800, 2) == AppendResult(6, 800, 2)
    assert append_outcome(NO_STREAM, None, 800, 3) == AppendResult(2, 800, 3)
    assert append_outcome(ANY, prior, 800, 1) is None  # read back: a concurrent writer may have come first
    assert append_outcome(ANY, prior, 400, 1) == AppendResult(4, 400, 0)  # ids recognised by the server


def test_constructing_the_store_needs_no_server():
    store = KurrentDbEventStore("esdb://kurrentdb.invalid:2113?tls=false")
    assert store._client is None
    store.close()
    with pytest.raises(ValueError):
        KurrentDbEventStore("http://not-a-kurrentdb-url")


# -- the adapter against a fake of the client ------------------------------------------------
class _Response(list):
    def __enter__(self):
        return iter(self)

    def __exit__(self, *exc):
        return False


class FakeKurrentClient:
    """The subset of ``KurrentDBClient`` the adapter calls, with a log of byte-offset positions."""

    def __init__(self):
        self.log: list[KdbRecordedEvent] = []
        self.lock = threading.Condition()  # one server: appends are serialised, readers woken
        self._system("$stats-node", "$statsCollected")

    def _write(self, stream: str, event: KdbNewEvent) -> KdbRecordedEvent:
        position = (self.log[-1].commit_position if self.log else 0) + 137 + len(event.data)
        revision = len(self._stream(stream))
        self.log.append(_recorded(event, stream, revision, position))
        return self.log[-1]

    def _system(self, stream: str, type_: str) -> None:
        self._write(stream, KdbNewEvent(type=type_, data=b"{}"))

    def _stream(self, stream: str) -> list[KdbRecordedEvent]:
        return [e for e in self.log if e.stream_name == stream]

    def append_to_stream(self, stream_name, /, *, events, current_version):
        with self.lock:
            position = self._append(stream_name, list(events), current_version)
            self.lock.notify_all()
            return position

    def _append(self, stream_name, events, current_version) -> int:
        stream = self._stream(stream_name)
        if [e.id for e in self._where_retry_would_be(stream, events, current_version)] == [e.id for e in events]:
            return self._last_of(stream, events)  # idempotent: ids already there
        actual = len(stream) - 1 if stream else None
        ok = {StreamState.ANY: True, StreamState.NO_STREAM: actual is None, StreamState.EXISTS: actual is not None}
        if not ok.get(current_version, current_version == actual):
            raise WrongCurrentVersionError("wrong", actual_version=StreamState.NO_STREAM if actual is None else actual)
        self._system("$stats-node", "$statsCollected")  # system noise between appends
        return [self._write(stream_name, e) for e in events][-1].commit_position

    @staticmethod
    def _where_retry_would_be(stream, events, current_version) -> list[KdbRecordedEvent]:
        """Stored events a retry matches: at the expected position, or anywhere for ANY/EXISTS."""
        if isinstance(current_version, int) or current_version is StreamState.NO_STREAM:
            start = 0 if current_version is StreamState.NO_STREAM else current_version + 1
            return stream[start : start + len(events)]
        ids = {e.id for e in events}
        return [e for e in stream if e.id in ids]

    @staticmethod
    def _last_of(stream, events) -> int:
        return next(e.commit_position for e in stream if e.id == events[-1].id)

    def get_stream(self, stream_name, *, stream_position=None, backwards=False, limit=sys.maxsize):
        with self.lock:
            stream = self._stream(stream_name)
        if not stream:
            raise NotFoundError(stream_name)
        if backwards:
            top = len(stream) - 1 if stream_position is None else stream_position
            return tuple(reversed(stream[: top + 1]))[:limit]
        return tuple(stream[stream_position or 0 :])[:limit]

    def get_current_version(self, stream_name):
        with self.lock:
            stream = self._stream(stream_name)
        return stream[-1].stream_position if stream else StreamState.NO_STREAM

    def read_all(self, *, commit_position=None, backwards=False, filter_include=(), filter_by_stream_name=False,
                 filter_by_prefix=False, limit=sys.maxsize):  # fmt: skip
        with self.lock:
            log = list(self.log)
        if commit_position is not None and commit_position not in {e.commit_position for e in log}:
            raise InvalidCommitPositionError(str(commit_position))
        events = list(reversed(log)) if backwards else log
        if commit_position is not None:
            events = [
                e
                for e in events
                if (e.commit_position < commit_position if backwards else e.commit_position >= commit_position)
            ]
        if filter_include and filter_by_prefix:
            events = [e for e in events if e.stream_name.startswith(tuple(filter_include))]
        elif filter_include:
            regex = construct_filter_include_regex(filter_include)
            events = [e for e in events if re.match(regex, e.stream_name if filter_by_stream_name else e.type)]
        else:
            events = [e for e in events if not e.type.startswith("$")]
        return _Response(events[:limit])

    def get_commit_position(self):
        with self.lock:
            events = [e for e in self.log if not e.type.startswith("$")]
        return events[-1].commit_position if events else 0

    def subscribe_to_all(self, *, commit_position=None, from_end=False, timeout=None):
        with self.lock:
            if commit_position is not None and commit_position not in {e.commit_position for e in self.log}:
                raise InvalidCommitPositionError(str(commit_position))
        after = self.get_commit_position() if from_end else commit_position or 0

        def later():
            return [e for e in self.log if not e.type.startswith("$") and e.commit_position > after]

        with self.lock:
            if not self.lock.wait_for(later, timeout):
                raise GrpcDeadlineExceededError("deadline")
            return _Response(later())

    def close(self):
        pass


@pytest.fixture
def store():
    return KurrentDbEventStore("esdb://fake:2113?tls=false", client=FakeKurrentClient())


def test_append_with_expected_revisions(store):
    first = store.append("sensordata-3", [_new_event()], NO_STREAM)
    assert (first.stream_revision, first.appended) == (0, 1)
    second = store.append("sensordata-3", [_new_event(), _new_event()], 0)
    assert (second.stream_revision, second.appended) == (2, 2) and second.global_position > first.global_position
    with pytest.raises(WrongExpectedRevision) as error:
        store.append("sensordata-3", [_new_event()], 0)
    assert error.value.actual == 2
    with pytest.raises(WrongExpectedRevision):
        store.append("sensordata-9", [_new_event()], STREAM_EXISTS)
    with pytest.raises(WrongExpectedRevision):
        store.append("sensordata-3", [_new_event()], NO_STREAM)
    with pytest.raises(WrongExpectedRevision):
        store.append("sensordata-3", [_new_event()], -1)
    assert store.append("sensordata-3", [_new_event()], ANY).stream_revision == 3
    assert store.stream_revision("sensordata-3") == 3 and store.stream_revision("nothing-1") is None


def test_re_append_of_stored_ids_returns_stored_positions(store):
    events = [_new_event(), _new_event()]
    first = store.append("sensordata-3", events, NO_STREAM)
    store.append("sensordata-3", [_new_event()], 1)
    retry = store.append("sensordata-3", events, NO_STREAM)  # stale revision, all ids stored
    assert (retry.global_position, retry.appended, retry.stream_revision) == (first.global_position, 0, 2)
    assert store.append("sensordata-3", events, ANY).appended == 0
    assert [e.event_id for e in store.read_stream("sensordata-3")][:2] == [e.event_id for e in events]
    assert len(store.read_stream("sensordata-3")) == 3
    deep = _new_event()
    store.append("account-5", [deep], NO_STREAM)
    store.append("account-5", [_new_event(), _new_event()], 0)
    again = store.append("account-5", [deep], 0)  # stale revision: found by the window search
    assert (again.appended, again.stream_revision) == (0, 2)
    e4, last = _new_event(), store.read_stream("account-5", -1, backwards=True, limit=1)[0]
    within = store.append("account-5", [e4, e4, _new_event_with_id(last.event_id)], 2)  # repeated and stored ids
    assert (within.appended, within.stream_revision) == (1, 3)
    assert [e.event_id for e in store.read_stream("account-5")][-1] == e4.event_id


def test_read_all_from_a_position_that_is_no_event(store):
    result = store.append("sensordata-3", [_new_event()], NO_STREAM)
    later = store.append("sensordata-4", [_new_event(), _new_event()], NO_STREAM)
    assert store.read_all(later.global_position + 5) == []  # beyond the head: nothing yet
    after_first = store.read_all(result.global_position + 1)  # no event there: scanned back to it
    assert [e.global_position for e in after_first] == [
        e.global_position for e in store.read_all(result.global_position)
    ]
    assert len(after_first) == 2 and store.read_all(result.global_position - 1, limit=1)[0].global_position == (
        result.global_position
    )
    assert len(store.read_all(result.global_position + 1, types=["SensorDataRecorded"], stream_prefix="sensor")) == 2


def test_reads_and_positions(store):
    a = store.append("sensordata-3", [_new_event(), _new_event()], NO_STREAM)
    store.append("account-1", [_new_event()], NO_STREAM)
    everything = store.read_all()
    positions = [e.global_position for e in everything]
    assert positions == sorted(set(positions)) and len(positions) == 3  # increasing, system events hidden
    assert positions[1] == a.global_position and positions[1] - positions[0] > 1  # not 1..N
    assert store.head_position() == positions[-1]
    assert [e.global_position for e in store.read_all(positions[0])] == positions[1:]
    assert store.read_all(positions[0], limit=1)[0].global_position == positions[1]
    assert [e.stream_id for e in store.read_all(stream_prefix="account-")] == ["account-1"]
    assert len(store.read_all(types=["SensorDataRecorded"])) == 3
    assert store.read_all(types=["SensorDataRecorded"], stream_prefix="sensordata-")[-1].global_position == positions[1]
    assert store.read_all(positions[-1]) == []
    assert [e.stream_revision for e in store.read_stream("sensordata-3", backwards=True, from_revision=-1)] == [1, 0]
    assert [e.stream_revision for e in store.read_stream("sensordata-3", from_revision=1)] == [1]
    assert store.read_stream("nothing-1") == []
    assert store.get_event(everything[1].event_id) == everything[1] and store.get_event(uuid.uuid4()) is None


def test_wait_and_subscribe(store):
    assert store.wait_for_append(0, timeout_s=0.01) is False
    result = store.append("sensordata-3", [_new_event()], NO_STREAM)
    assert store.wait_for_append(0, timeout_s=0.01) is True
    assert store.wait_for_append(result.global_position, timeout_s=0.01) is False
    batches = subscribe(store, 0, stop=_StopAfter(2))
    assert [e.global_position for e in next(batches)] == [result.global_position]


def test_wait_for_append_wakes_up_on_another_writer(store):
    head = store.append("sensordata-3", [_new_event()], NO_STREAM).global_position
    writer = threading.Timer(0.05, lambda: store.append("sensordata-3", [_new_event()], 0))
    writer.start()
    try:
        assert store.wait_for_append(head, timeout_s=60.0) is True  # returns on the append, not the timeout
    finally:
        writer.join()
    beyond = store.head_position() + 1  # no event there: waits from the end of $all
    assert store.wait_for_append(beyond, timeout_s=0.01) is False


class _StopAfter:
    def __init__(self, calls: int):
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0


class UnreachableClient:
    """A client whose every call fails as the real one does when the server is down or slow."""

    def __init__(self, error: Exception):
        self.error = error

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise self.error

        return fail


@pytest.mark.parametrize(
    "error",
    [ServiceUnavailableError("connection refused"), GrpcDeadlineExceededError("deadline"), DiscoveryFailedError()],
)
def test_transport_errors_become_the_ports_unavailable_error(error):
    from domain.ports.event_store import EventStoreUnavailable

    store = KurrentDbEventStore("esdb://fake:2113?tls=false", client=UnreachableClient(error))
    with pytest.raises(EventStoreUnavailable) as raised:
        store.head_position()
    assert raised.value.__cause__ is error
    with pytest.raises(EventStoreUnavailable):
        store.append("s-1", [NewEvent(type="Tested", data={})])
    with pytest.raises(EventStoreUnavailable):
        store.read_all(0, 10)


def test_other_client_errors_become_event_store_errors():
    from kurrentdbclient.exceptions import AccessDeniedError

    from domain.ports.event_store import EventStoreError, EventStoreUnavailable

    store = KurrentDbEventStore("esdb://fake:2113?tls=false", client=UnreachableClient(AccessDeniedError("no")))
    with pytest.raises(EventStoreError) as raised:
        store.stream_revision("s-1")
    assert not isinstance(raised.value, EventStoreUnavailable)

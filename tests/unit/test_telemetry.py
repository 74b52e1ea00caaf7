"""Telemetry: off by default, W3C traceparent helpers, and one trace along the write path.

The pipeline test runs the real embedded platform (SQLite event store, in-process log, relay,
runner, readings projection) with an in-memory span exporter and checks that
``eventstore.append``, ``relay.publish``, ``processor.*`` and ``readmodel.write`` share the
trace named by the event's ``traceparent``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.beliefs import SensorDataRecorded
from domain.events import EventMetadata, NewEvent, RecordedEvent
from infra import telemetry
from infra.bootstrap import build_platform
from infra.settings import Settings
from projections.readings import readings


@pytest.fixture(scope="module")
def spans():
    """An in-memory exporter on the process-wide tracer provider (switched off afterwards)."""
    exporter = InMemorySpanExporter()
    handle = telemetry.configure_telemetry("flexledger-test", env={}, span_exporter=exporter)
    yield exporter
    handle.shutdown()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "Console, otlp"}, ["console", "otlp"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
    ],
)
def test_exporters_requested_follows_standard_variables(env, expected):
    assert telemetry.exporters_requested(env, "TRACES") == expected


def test_off_by_default_and_when_sdk_disabled():
    assert not telemetry.configure_telemetry("flexledger", env={}).enabled
    disabled = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}
    assert not telemetry.configure_telemetry("flexledger", env=disabled).enabled


def test_traceparent_round_trip(spans):
    with telemetry.get_tracer().start_as_current_span("outer") as span:
        traceparent = telemetry.current_traceparent()
        carrier = telemetry.inject_traceparent({"event_type": "X"})
    assert traceparent is not None and carrier["traceparent"] == traceparent
    remote = trace.get_current_span(telemetry.extract_context(carrier)).get_span_context()
    assert remote.trace_id == span.get_span_context().trace_id
    assert remote.span_id == span.get_span_context().span_id
    assert telemetry.current_traceparent() is None  # no span outside the block


def _new_trace(name: str) -> tuple[str, trace.SpanContext]:
    with telemetry.get_tracer().start_as_current_span(name) as span:
        return telemetry.current_traceparent(), span.get_span_context()


def test_spans_per_trace_opens_one_span_per_trace(spans):
    (tp_a, ctx_a), (tp_b, ctx_b) = _new_trace("a"), _new_trace("b")
    spans.clear()
    with telemetry.spans_per_trace("relay.publish", [tp_a, tp_b, tp_a]) as mapping:
        pass
    finished = {s.context.trace_id: s for s in spans.get_finished_spans() if s.name == "relay.publish"}
    assert set(finished) == {ctx_a.trace_id, ctx_b.trace_id}
    assert finished[ctx_a.trace_id].attributes["events"] == 2
    assert finished[ctx_a.trace_id].parent.span_id == ctx_a.span_id
    new_a = trace.get_current_span(telemetry.extract_context({"traceparent": mapping[tp_a]})).get_span_context()
    assert new_a.span_id == finished[ctx_a.trace_id].context.span_id


def test_batch_span_links_many_traces_and_continues_one(spans):
    (tp_a, ctx_a), (tp_b, ctx_b) = _new_trace("a"), _new_trace("b")
    spans.clear()
    with telemetry.batch_span("readmodel.write", [tp_a, tp_b]):
        pass
    with telemetry.batch_span("readmodel.write", [tp_a, tp_a]):
        pass
    many, one = [s for s in spans.get_finished_spans() if s.name == "readmodel.write"]
    assert many.parent is None
    assert {link.context.trace_id for link in many.links} == {ctx_a.trace_id, ctx_b.trace_id}
    assert one.context.trace_id == ctx_a.trace_id and one.parent.span_id == ctx_a.span_id


def test_error_in_spans_per_trace_marks_the_span(spans):
    tp, _ = _new_trace("a")
    spans.clear()
    with pytest.raises(RuntimeError), telemetry.spans_per_trace("processor.x", [tp]):
        raise RuntimeError("boom")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is trace.StatusCode.ERROR


def test_metric_instruments_record():
    reader = InMemoryMetricReader()
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    else:  # pragma: no cover - another test installed a provider first
        pytest.skip("a metrics provider was installed earlier in this process")
    telemetry.record_appended("sensordata-1", 3)
    with telemetry.solve_timer({"solver": "highs"}):
        pass
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"flexledger.events.appended", "flexledger.scheduler.solve_time"} <= names


def _reading_event(traceparent: str | None) -> NewEvent:
    event = SensorDataRecorded(
        sensor_id=7,
        start=datetime(2025, 1, 1, tzinfo=UTC),
        resolution_s=900,
        values=[1.5, 2.5],
        unit="kW",
        source="meter",
        received_at=datetime(2025, 1, 1, 1, tzinfo=UTC),
    )
    return NewEvent.of(event, EventMetadata(actor="tester", traceparent=traceparent))


def test_one_trace_from_append_to_read_model(spans, tmp_path):
    """Embedded: the processors follow the store; their spans continue the appending request's trace."""
    settings = Settings(home=tmp_path, event_store="sqlite", log="memory", read_models="sqlite", run_processors=True)
    platform = build_platform(settings)
    try:
        platform.start()
        traceparent, request = _new_trace("http.request")  # the API's span; ended before the append
        spans.clear()
        result = platform.store.append("sensordata-7", [_reading_event(traceparent)])
        assert platform.wait_for(result.global_position, ["projection.readings"], timeout_s=10.0)
        with platform.read_models.read_engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(readings)).scalar() == 2
    finally:
        platform.close()
    finished = [s for s in spans.get_finished_spans() if s.context.trace_id == request.trace_id]
    by_name = {s.name: s for s in finished}
    assert {"eventstore.append", "processor.projection.readings", "readmodel.write"} <= set(by_name)
    assert by_name["eventstore.append"].parent.span_id == request.span_id
    assert by_name["processor.projection.readings"].parent.span_id == request.span_id
    # the schedules projection reads the readings topic too: pick the readings model's write
    (readings_write,) = [
        s for s in finished if s.name == "readmodel.write" and s.attributes["projection"] == "readings"
    ]
    assert readings_write.parent.span_id == by_name["processor.projection.readings"].context.span_id


def test_traced_log_opens_relay_spans_and_rewrites_the_headers(spans):
    """With a log (Kafka), the relay's publish is a span per trace; records carry its traceparent."""
    from infra.log.memory import MemoryLog
    from infra.traced import TracedLog
    from streams.relay import records_for

    traceparent, request = _new_trace("http.request")
    spans.clear()
    store_event = _reading_event(traceparent)
    recorded = RecordedEvent(
        event_id=store_event.event_id, stream_id="sensordata-7", stream_revision=0, global_position=1,
        type=store_event.type, schema_version=1, data=store_event.data, metadata=store_event.metadata,
    )  # fmt: skip
    log = TracedLog(MemoryLog(partitions=1))
    log.publish(records_for(recorded))
    (publish,) = [s for s in spans.get_finished_spans() if s.name == "relay.publish"]
    assert publish.parent.span_id == request.span_id
    consumer = log.consumer("g", ["flexledger.readings"])
    (record,) = consumer.poll(10, timeout_s=0)
    relayed = trace.get_current_span(telemetry.extract_context(record.headers)).get_span_context()
    assert relayed.span_id == publish.context.span_id


def test_relay_headers_without_traceparent(tmp_path):
    """An event without ``traceparent`` gets no header when no relay span replaces it."""
    from streams.relay import records_for

    settings = Settings(home=tmp_path, event_store="sqlite", log="memory", read_models="sqlite")
    platform = build_platform(settings)
    try:
        platform.store.append("sensordata-8", [_reading_event(traceparent=None)])
        (recorded,) = platform.store.read_all()
        assert all("traceparent" not in r.headers for r in records_for(recorded))
        assert all(r.headers["traceparent"] == "tp" for r in records_for(recorded, traceparent="tp"))
    finally:
        platform.close()

"""Every write path builds its command context the same way (``api.deps.command_context``).

With tracing on (an in-memory exporter), a client sends ``traceparent``; the events a v3 route
and the v2.0 routes append carry the *server* span's trace parent (a child of the client's span,
same trace), not the client's header copied through. Embedded SQLite deployment, no scheduler
(the UDI event's trace context is what is checked, not its schedule).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from scheduling_support import DAY, SchedulingHarness

from infra import telemetry

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE}-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    handle = telemetry.configure_telemetry("flexledger-test", env={}, span_exporter=exporter)
    yield exporter
    handle.shutdown()


@pytest.fixture
def harness(tmp_path) -> Iterator[SchedulingHarness]:
    h = SchedulingHarness(tmp_path, scheduler=False)
    try:
        yield h
    finally:
        h.close()


def _server_span_ids(spans: InMemorySpanExporter, path: str) -> set[str]:
    return {
        f"{s.context.span_id:016x}"
        for s in spans.get_finished_spans()
        if s.name.endswith(path) and f"{s.context.trace_id:032x}" == CLIENT_TRACE
    }


def _stored_traceparents(h: SchedulingHarness, after: int, stream_prefix: str) -> list[str | None]:
    return [r.metadata.traceparent for r in h.platform.store.read_all(after, 10_000, stream_prefix=stream_prefix)]


@pytest.mark.parametrize("route", ["postUdiEvent", "postMeterData"])
def test_v2_0_writes_carry_the_server_span_of_the_request(spans, harness: SchedulingHarness, route: str) -> None:
    h = harness
    headers = {**h.headers(), "traceparent": CLIENT_TRACEPARENT}
    before = h.head
    if route == "postUdiEvent":
        response = h.client.post("/api/v2_0/postUdiEvent", json=h.udi_message(event_id=1), headers=headers)
        prefix = "udi-"
    else:
        message = {
            "type": "PostMeterDataRequest", "connection": h.address("battery", 0).rsplit(":", 2)[0],
            "values": [1.0, 2.0], "start": DAY.isoformat(), "duration": "PT30M", "unit": "kW",
        }  # fmt: skip
        response = h.client.post("/api/v2_0/postMeterData", json=message, headers=headers)
        prefix = "sensordata-"
    assert response.status_code == 200, response.text
    stored = _stored_traceparents(h, before, prefix)
    assert stored, "nothing was appended"
    server_spans = _server_span_ids(spans, f"/api/v2_0/{route}")
    assert server_spans, "the request opened no server span"
    for traceparent in stored:
        assert traceparent is not None
        _, trace_id, span_id, _ = traceparent.split("-")
        assert trace_id == CLIENT_TRACE
        assert span_id in server_spans  # the server span's, not the client's b7ad6b7169203331

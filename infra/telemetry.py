"""OpenTelemetry for flexledger: one trace along the write path, and a few metrics.

**Off by default.** :func:`configure_telemetry` installs SDK providers only when the standard
variables ask for it (nothing set: the OpenTelemetry API stays a no-op, near-zero cost):

* ``OTEL_SDK_DISABLED=true`` — off, whatever else is set.
* ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` — comma-separated ``console``, ``otlp``,
  ``none``. Unset but ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the per-signal
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT``) set: ``otlp``.
* ``OTEL_SERVICE_NAME`` overrides the ``service_name`` argument; ``OTEL_RESOURCE_ATTRIBUTES``,
  ``OTEL_TRACES_SAMPLER(_ARG)``, ``OTEL_METRIC_EXPORT_INTERVAL`` and the OTLP exporter's own
  ``OTEL_EXPORTER_OTLP_*`` variables are read by the SDK and exporters themselves.
* ``otlp`` needs ``opentelemetry-exporter-otlp-proto-http`` (``OTEL_EXPORTER_OTLP_PROTOCOL``
  ``http/protobuf``, the default here) or ``opentelemetry-exporter-otlp-proto-grpc`` (``grpc``).
  When the package is missing a warning is logged and that exporter is skipped; ``console``
  and ``none`` need only ``opentelemetry-sdk``.

Spans of the write path, linked by the W3C ``traceparent`` carried in event metadata and in
log-record headers::

    HTTP request ─▶ eventstore.append ─▶ [relay.publish, with Kafka] ─▶ processor.<name> ─▶ readmodel.write

These spans come from decorators the composition root puts around the adapters and processors
(:mod:`infra.traced`); the adapters and
processors themselves know nothing of telemetry.

``eventstore.append`` is a child of the current span, else of the events' ``traceparent``. The
relay and the processors handle batches that mix requests: they open one span per distinct
trace in the batch (:func:`spans_per_trace`); the relay rewrites each record's ``traceparent``
header to its own span (for third-party consumers of the log). A processor span's parent is
the span that appended its event (the trace's context travels in the event's metadata).

Metrics (all times in seconds; "lag" = now minus the event's ``metadata.recorded_at``):
``flexledger.events.appended`` (counter, per stream category), ``flexledger.processor.lag``,
``flexledger.projection.lag`` and ``flexledger.scheduler.solve_time`` (histograms).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACER_NAME = "flexledger"
MAX_LINKS = 32
"""Most links a batch span keeps to the traces of its events."""

_PROPAGATOR = TraceContextTextMapPropagator()
Attributes = Mapping[str, str | int | float | bool]


# -- configuration -------------------------------------------------------------------------
@dataclass
class Telemetry:
    """What :func:`configure_telemetry` switched on; ``shutdown()`` flushes and stops it."""

    traces_exporters: list[str] = field(default_factory=list)
    metrics_exporters: list[str] = field(default_factory=list)
    _span_processors: list[Any] = field(default_factory=list, repr=False)
    _meter_provider: Any = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self._span_processors or self._meter_provider)

    def shutdown(self) -> None:
        for processor in self._span_processors:
            processor.shutdown()
        self._span_processors.clear()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
            self._meter_provider = None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def exporters_requested(env: Mapping[str, str], signal: str) -> list[str]:
    """Exporter names asked for ``signal`` (``TRACES`` or ``METRICS``); ``[]`` means off."""
    names = env.get(f"OTEL_{signal}_EXPORTER")
    if names is None:
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        return ["otlp"] if endpoint else []
    chosen = [n.strip().lower() for n in names.split(",")]
    return [n for n in chosen if n and n != "none"]


def _otlp_protocol(env: Mapping[str, str], signal: str) -> str:
    return env.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"


def _span_exporter(name: str, env: Mapping[str, str]):
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        if _otlp_protocol(env, "TRACES") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter()
    raise ValueError(f"unsupported OTEL_TRACES_EXPORTER {name!r} (console, otlp, none)")


def _metric_exporter(name: str, env: Mapping[str, str]):
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    if name == "console":
        return ConsoleMetricExporter()
    if name == "otlp":
        if _otlp_protocol(env, "METRICS") == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        return OTLPMetricExporter()
    raise ValueError(f"unsupported OTEL_METRICS_EXPORTER {name!r} (console, otlp, none)")


def _build(factory, name: str, env: Mapping[str, str]):
    """An exporter, or ``None`` with a warning when its package is missing or the name unknown."""
    try:
        return factory(name, env)
    except ImportError as exc:
        log.warning("telemetry exporter %r unavailable (%s): install opentelemetry-exporter-otlp-proto-http", name, exc)
    except ValueError as exc:
        log.warning("%s", exc)
    return None


def _tracer_provider(resource):
    """The global SDK tracer provider: the one installed earlier, else a new one (installed)."""
    from opentelemetry.sdk.trace import TracerProvider

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=resource)
    trace.set_tracer_provider(provider)
    return provider


def configure_telemetry(
    service_name: str, env: Mapping[str, str] | None = None, span_exporter: Any = None
) -> Telemetry:
    """Switch tracing and metrics on as the ``OTEL_*`` variables in ``env`` (default: the
    process environment) ask; off when none asks. ``span_exporter`` (e.g. an
    ``InMemorySpanExporter`` in tests) is added with a synchronous processor and turns
    tracing on by itself. Providers are process-global: a second call adds its span
    processors to the provider installed by the first.
    """
    env = os.environ if env is None else env
    result = Telemetry()
    if _truthy(env.get("OTEL_SDK_DISABLED")):
        return result
    result.traces_exporters = exporters_requested(env, "TRACES")
    result.metrics_exporters = exporters_requested(env, "METRICS")
    if not (result.traces_exporters or result.metrics_exporters or span_exporter is not None):
        return result

    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service_name})
    processors = [SimpleSpanProcessor(span_exporter)] if span_exporter is not None else []
    for name in result.traces_exporters:
        exporter = _build(_span_exporter, name, env)
        if exporter is not None:
            processors.append(BatchSpanProcessor(exporter))
    if processors:
        provider = _tracer_provider(resource)
        for processor in processors:
            provider.add_span_processor(processor)
        result._span_processors = processors
    result._meter_provider = _configure_metrics(resource, result.metrics_exporters, env)
    return result


def _configure_metrics(resource, names: Sequence[str], env: Mapping[str, str]):
    if not names:
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    readers = [PeriodicExportingMetricReader(e) for n in names if (e := _build(_metric_exporter, n, env))]
    if not readers:
        return None
    if isinstance(metrics.get_meter_provider(), MeterProvider):
        log.warning("a metrics provider is already installed; OTEL_METRICS_EXPORTER of this call ignored")
        return None
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    return provider


# -- traces ---------------------------------------------------------------------------------
def get_tracer(name: str = TRACER_NAME) -> trace.Tracer:
    """The tracer (a no-op until :func:`configure_telemetry` switched tracing on)."""
    return trace.get_tracer(name)


def inject_traceparent(carrier: dict[str, str] | None = None, context: Context | None = None) -> dict[str, str]:
    """Write the W3C ``traceparent`` (and ``tracestate``) of ``context`` (default: the current
    span) into ``carrier``; nothing is written when there is no valid span."""
    carrier = {} if carrier is None else carrier
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract_context(carrier: Mapping[str, str] | None) -> Context:
    """The context whose parent is the remote span named by ``carrier['traceparent']``."""
    return _PROPAGATOR.extract(dict(carrier or {}), context=Context())


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, for event metadata; ``None`` without one."""
    return inject_traceparent().get("traceparent")


def _context_of(traceparent: str | None) -> Context | None:
    return extract_context({"traceparent": traceparent}) if traceparent else None


def _span_context(traceparent: str | None) -> trace.SpanContext | None:
    context = _context_of(traceparent)
    if context is None:
        return None
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None


@contextmanager
def batch_span(name: str, traceparents: Iterable[str | None] = (), attributes: Attributes | None = None):
    """One current span for work on a batch of events.

    Its parent: the current span if there is one; else the one trace the ``traceparents`` name;
    else none (a new trace) with links to up to :data:`MAX_LINKS` of the traces.
    """
    parent: Context | None = None
    links: list[trace.Link] = []
    if not trace.get_current_span().get_span_context().is_valid:
        contexts = {sc.trace_id: sc for tp in set(traceparents) if (sc := _span_context(tp)) is not None}
        if len(contexts) == 1:
            parent = trace.set_span_in_context(trace.NonRecordingSpan(next(iter(contexts.values()))), Context())
        else:
            links = [trace.Link(sc) for sc in list(contexts.values())[:MAX_LINKS]]
    with get_tracer().start_as_current_span(name, context=parent, links=links, attributes=attributes) as span:
        yield span


@contextmanager
def spans_per_trace(
    name: str, traceparents: Iterable[str | None], attributes: Attributes | None = None
) -> Iterator[dict[str | None, str | None]]:
    """One span per distinct ``traceparent`` of a batch (``None``: one span in a new trace, or
    under the current span), ended together when the block ends (error status on exception).

    Yields ``{original traceparent: traceparent of its new span}`` for rewriting headers (the
    original itself when tracing is off). With exactly one span, it is current in the block.
    """
    counts: dict[str | None, int] = {}
    for tp in traceparents:
        counts[tp] = counts.get(tp, 0) + 1
    tracer = get_tracer()
    spans = {
        tp: tracer.start_span(name, context=_context_of(tp), attributes={**(attributes or {}), "events": n})
        for tp, n in counts.items()
    }
    mapping = {
        tp: inject_traceparent(context=trace.set_span_in_context(s)).get("traceparent", tp) for tp, s in spans.items()
    }
    with ExitStack() as stack:
        if len(spans) == 1:
            stack.enter_context(trace.use_span(next(iter(spans.values())), end_on_exit=False))
        try:
            yield mapping
        except BaseException as exc:
            for span in spans.values():
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
            raise
        finally:
            for span in spans.values():
                span.end()


# -- metrics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruments:
    events_appended: metrics.Counter
    processor_lag_s: metrics.Histogram
    projection_lag_s: metrics.Histogram
    scheduler_solve_s: metrics.Histogram


@cache
def instruments() -> Instruments:
    """The metric instruments (created once; they follow the provider installed later)."""
    meter = metrics.get_meter(TRACER_NAME)
    return Instruments(
        events_appended=meter.create_counter(
            "flexledger.events.appended", unit="{event}", description="Events newly stored by the event store."
        ),
        processor_lag_s=meter.create_histogram(
            "flexledger.processor.lag",
            unit="s",
            description="Now minus recorded_at of a processor's last applied event.",
        ),
        projection_lag_s=meter.create_histogram(
            "flexledger.projection.lag",
            unit="s",
            description="Now minus recorded_at of the last event a read model wrote.",
        ),
        scheduler_solve_s=meter.create_histogram(
            "flexledger.scheduler.solve_time", unit="s", description="Wall time of one scheduling solve."
        ),
    )


def _category(stream_id: str) -> str:
    return stream_id.split("-", 1)[0]


def record_appended(stream_id: str, count: int) -> None:
    """Count ``count`` newly stored events of ``stream_id`` (attribute: the stream category)."""
    if count:
        instruments().events_appended.add(count, {"category": _category(stream_id)})


def _lag_s(events: Sequence[Any]) -> float | None:
    if not events:
        return None
    return (datetime.now(UTC) - events[-1].metadata.recorded_at).total_seconds()


def record_processor_lag(processor: str, events: Sequence[Any]) -> None:
    """Lag of ``processor`` after applying ``events`` (``RecordedEvent``s, last one counts)."""
    lag = _lag_s(events)
    if lag is not None:
        instruments().processor_lag_s.record(max(lag, 0.0), {"processor": processor})


def record_projection_lag(projection: str, events: Sequence[Any]) -> None:
    """Lag of read model ``projection`` after writing ``events`` (last one counts)."""
    lag = _lag_s(events)
    if lag is not None:
        instruments().projection_lag_s.record(max(lag, 0.0), {"projection": projection})


@contextmanager
def solve_timer(attributes: Attributes | None = None):
    """Time a scheduler solve: ``with solve_timer({"solver": "highs"}): solve(...)``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        instruments().scheduler_solve_s.record(time.perf_counter() - start, dict(attributes or {}))


__all__ = [
    "Telemetry",
    "batch_span",
    "configure_telemetry",
    "current_traceparent",
    "exporters_requested",
    "extract_context",
    "get_tracer",
    "inject_traceparent",
    "instruments",
    "record_appended",
    "record_processor_lag",
    "record_projection_lag",
    "solve_timer",
    "spans_per_trace",
]

"""W3C trace context at the HTTP edge (OpenTelemetry API only; the SDK is configured by infra).

The same three helpers as :mod:`infra.telemetry` uses for the write path, so that the API does
not import ``infra``: a tracer (a no-op until telemetry is switched on), the context of a
client's ``traceparent`` header, and the current span's ``traceparent`` for event metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "flexledger"
_PROPAGATOR = TraceContextTextMapPropagator()


def get_tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def extract_context(carrier: Mapping[str, str] | None) -> Context:
    """The context whose parent is the remote span named by ``carrier['traceparent']``."""
    return _PROPAGATOR.extract(dict(carrier or {}), context=Context())


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span; ``None`` without a valid one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")

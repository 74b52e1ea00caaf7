"""The Faust runner, composed: the platform's processors as Faust agents (:mod:`streams.faust_app`).

:func:`run_faust` takes the processors of :func:`infra.bootstrap.build_processors`, declares
their topics (Faust does not), and runs a Faust worker with the log's wire format
(:func:`infra.log.serialization.decode_event`) and the platform's Kafka settings. Run:
``flexledger worker --runner faust`` or ``python -m infra.worker --faust`` (settings from
``FLEXLEDGER_*``).
"""

from __future__ import annotations

import faust

from infra.bootstrap import Platform
from infra.log.serialization import decode_event
from streams.faust_app import create_app


def run_faust(platform: Platform, max_records: int = 500, loglevel: str = "warn") -> None:
    """Run the platform's processors as a Faust worker until SIGTERM/SIGINT (blocks)."""
    settings = platform.settings
    topics = sorted({t for p in platform.processors for t in p.topics})
    ensure_topics = getattr(platform.log, "ensure_topics", None)
    if ensure_topics is not None:
        ensure_topics(topics)  # Faust does not declare them (topic_allow_declare=False)
    app = create_app(
        platform.runnable_processors(),
        settings.kafka_bootstrap_servers,
        decode_event,
        max_records=max_records,
        partitions=settings.kafka_partitions,
        session_timeout_s=getattr(platform.log, "session_timeout_s", 10.0),
        datadir=str(settings.home / "faust"),
    )
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:  # Faust exits the process when it stops; return to the caller
        if exc.code not in (None, 0):
            raise


__all__ = ["run_faust"]

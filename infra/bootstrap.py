"""The composition root: the one place that chooses adapters and wires the platform.

No string imports: :func:`build_platform` takes :class:`Settings` and returns a
:class:`Platform` holding every component (adapters wrapped in their telemetry decorators),
after :func:`prepare_storage`, the one step that creates tables. ``start()`` runs the
processors in threads: embedded, each follows the event store from its own checkpoint; with
Kafka, the relay and consumer loops. The distributed deployment runs them in workers instead
(``flexledger worker``) and sets ``FLEXLEDGER_RUN_PROCESSORS=false`` on the API.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from commands.context import CommandContext
from commands.registry import set_bcrypt_rounds
from domain.ports.checkpoints import CheckpointStore
from domain.ports.event_store import EventStore
from domain.ports.log import Log
from infra.checkpoints import SqlCheckpointStore
from infra.log.memory import MemoryLog
from infra.readmodels.database import ReadModelDb, postgres_readmodels, sqlite_readmodels
from infra.readmodels.timescale import ReadingsStorage, prepare_readings_storage
from infra.settings import Settings
from infra.traced import TracedEventStore, TracedLog, TracedProcessor
from projections.forecast_models import ForecastModelsProjection
from projections.jobs import JobsProjection
from projections.readings import ReadingsProjection
from projections.registry import RegistryProjection
from projections.schedules import SchedulesProjection
from streams.follower import EventFeed, StoreFollower
from streams.forecaster import FORECAST_TOPIC, ForecastProcessor
from streams.projection_processor import ProjectionProcessor
from streams.relay import Relay
from streams.runner import InProcessRunner, Processor, ProcessorLoop
from streams.scheduler import SCHEDULE_TOPICS, SchedulerProcessor, SolverOptions
from streams.topics import TOPIC_JOBS, TOPIC_READINGS, TOPIC_REGISTRY, topic_of_stream


def build_event_store(settings: Settings) -> EventStore:
    if settings.event_store == "postgres":
        from infra.eventstore.postgres import PostgresEventStore

        return PostgresEventStore(settings.postgres_url)
    if settings.event_store == "kurrentdb":
        from infra.eventstore.kurrentdb import KurrentDbEventStore

        return KurrentDbEventStore(settings.kurrentdb_url)
    from infra.eventstore.sqlite import SqliteEventStore

    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteEventStore(settings.event_store_path)


CHECKPOINT_POLL_S = 0.01
"""How often the API polls the read-model checkpoints in the distributed deployment."""


def build_log(settings: Settings) -> Log:
    """Kafka (traced: the relay's ``relay.publish`` spans); else an in-process log that the
    embedded deployment leaves empty (its processors follow the store, see :meth:`Platform.start`)."""
    if settings.log == "kafka":
        from infra.log.kafka import KafkaLog

        return TracedLog(KafkaLog(settings.kafka_bootstrap_servers, partitions=settings.kafka_partitions))
    return MemoryLog(partitions=1)  # one partition: processors see the global order


def build_read_models(settings: Settings) -> ReadModelDb:
    if settings.read_models == "postgres":
        return postgres_readmodels(settings.read_models_url or settings.postgres_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return sqlite_readmodels(settings.read_models_path)


def build_processors(platform: Platform) -> list[Processor]:
    """Every processor of the platform, in one list (projections, forecasters, scheduler); they
    share the platform's checkpoint store. Runners get them traced (:func:`traced`)."""
    engine, checkpoints = platform.read_models.write_engine, platform.checkpoints

    def projection(p, topics: list[str]) -> Processor:
        return ProjectionProcessor(p, engine, topics, checkpoints=checkpoints)

    return [
        projection(RegistryProjection(), [TOPIC_REGISTRY]),
        projection(ReadingsProjection(), [TOPIC_READINGS]),
        projection(JobsProjection(), [TOPIC_JOBS]),
        projection(SchedulesProjection(), list(SCHEDULE_TOPICS)),
        SchedulerProcessor(
            platform.store,
            engine,
            platform.read_models.read_engine,
            options=solver_options(platform.settings),
            wait_for_readings=lambda position: platform.wait_for(position, ["projection.readings"]),
            checkpoints=checkpoints,
            infrastructure_errors=READ_MODEL_ERRORS,
        ),
        projection(ForecastModelsProjection(), [FORECAST_TOPIC]),
        ForecastProcessor(platform.store, engine, checkpoints=checkpoints),
    ]


def traced(processors: list[Processor]) -> list[Processor]:
    """The processors in their telemetry decorators (``processor.<name>`` spans and lag; for
    projections also ``readmodel.write``), as every runner drives them."""
    return [TracedProcessor(p, projection=getattr(getattr(p, "projection", None), "name", None)) for p in processors]


READ_MODEL_ERRORS = (sa.exc.SQLAlchemyError,)
"""Errors of the read-model database: the platform's, never a trigger's (the scheduler retries)."""


def prepare_storage(platform: Platform) -> ReadingsStorage:
    """The one step that creates tables: the SQL event store's, checkpoints, every processor's, then the
    readings storage (TimescaleDB hypertable and aggregates when the extension is there, else
    a BRIN index on PostgreSQL; nothing more on SQLite). Idempotent."""
    create_store_tables = getattr(platform.store, "create_tables", None)  # SQL stores; KurrentDB has none
    if create_store_tables is not None:
        create_store_tables()
    platform.checkpoints.create_tables()
    for processor in platform.processors:
        create = getattr(processor, "create_tables", None)
        if create is not None:
            create()
    return prepare_readings_storage(platform.read_models)


def solver_options(settings: Settings) -> SolverOptions:
    """The scheduler's solver backend and limits, from the settings."""
    return SolverOptions(
        time_limit_s=settings.scheduler_time_limit_s,
        relative_gap=settings.scheduler_relative_gap,
        backend=settings.scheduler_backend,
    )


def _token_secret(settings: Settings) -> str:
    if settings.token_secret:
        return settings.token_secret
    path = settings.home / "token_secret"
    settings.home.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Platform:
    settings: Settings
    store: EventStore
    log: Log
    read_models: ReadModelDb
    token_secret: str
    checkpoints: CheckpointStore
    processors: list[Processor] = field(default_factory=list)
    runner: InProcessRunner | None = None
    readings_storage: ReadingsStorage | None = None

    def runnable_processors(self) -> list[Processor]:
        """The processors as runners drive them: in their telemetry decorators."""
        return traced(self.processors)

    @property
    def commands(self) -> CommandContext:
        return CommandContext(self.store)

    def start(self) -> None:
        """Run the processors in this process. Embedded (in-process log): each follows the event
        store from its own checkpoint, no relay. With Kafka: the relay and consumer loops."""
        if self.runner is not None or not self.settings.run_processors:
            return
        if isinstance(self.log, MemoryLog):
            feed = EventFeed(self.store, window_values=self.settings.feed_window_values)
            self.runner = InProcessRunner(None, [StoreFollower(p, feed) for p in traced(self.processors)])
        else:
            start = min((p.checkpoint() for p in self.processors), default=0)
            relay = Relay(self.store, self.log, start)
            loops = [
                ProcessorLoop(p, self.log, published_position=lambda: relay.position) for p in traced(self.processors)
            ]
            self.runner = InProcessRunner(relay, loops)
        self.runner.start()

    def wait_for(
        self,
        position: int,
        processors: list[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """Block until processors have applied ``position`` (read-your-writes for the API).

        Embedded: the in-process runner's progress. Distributed (processors in workers): the
        projections' checkpoints in the read-model database for the log partition that holds
        ``stream_id``'s events (polled); without ``stream_id``, or for processors that are not
        projections, it cannot tell and returns ``False`` at once.
        """
        timeout = self.settings.consistency_timeout_s if timeout_s is None else timeout_s
        if self.runner is not None:
            return self.runner.wait_for(position, processors, timeout)
        partition_key = getattr(self.log, "partition_key", None)
        by_name = {p.name: p for p in self.processors}
        waiting = [by_name.get(name) for name in processors or list(by_name)]
        if stream_id is None or partition_key is None or not all(hasattr(p, "has_applied") for p in waiting):
            return False
        topic, deadline = topic_of_stream(stream_id), time.monotonic() + timeout
        while True:
            partition = partition_key(topic, stream_id)  # None until the relay created the topic
            if partition is not None and all(p.has_applied(partition, position) for p in waiting):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(CHECKPOINT_POLL_S)

    async def wait_for_async(
        self,
        position: int,
        processors: list[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """:meth:`wait_for` for coroutines: embedded, the event loop is not blocked and no thread
        is held; distributed, the checkpoint polling runs in a worker thread."""
        if self.runner is None:
            return await asyncio.to_thread(self.wait_for, position, processors, timeout_s, stream_id)
        timeout = self.settings.consistency_timeout_s if timeout_s is None else timeout_s
        return await self.runner.wait_for_async(position, processors, timeout)

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.log.close()
        self.store.close()
        self.read_models.close()


def build_platform(settings: Settings | None = None) -> Platform:
    settings = settings or Settings()
    set_bcrypt_rounds(settings.bcrypt_rounds)
    read_models = build_read_models(settings)
    platform = Platform(
        settings=settings,
        store=TracedEventStore(build_event_store(settings)),
        log=build_log(settings),
        read_models=read_models,
        token_secret=_token_secret(settings),
        checkpoints=SqlCheckpointStore(read_models.write_engine),
    )
    platform.processors = build_processors(platform)
    platform.readings_storage = prepare_storage(platform)
    return platform

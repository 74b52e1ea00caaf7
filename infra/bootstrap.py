"""The composition root: the one place that chooses adapters and wires the platform.

No string imports: :func:`build_platform` takes :class:`Settings` and returns a
:class:`Platform` holding every component. It keeps no globals of its own; it applies one
process-wide setting, the bcrypt cost of password hashes (:func:`commands.registry.set_bcrypt_rounds`).
The read-your-writes waiter is chosen per deployment (:func:`build_consistency_waiter`).
``start()`` runs the relay and processors in threads (embedded runner); the distributed
deployment runs them in Faust workers instead (``flexledger worker``) and sets
``FLEXLEDGER_RUN_PROCESSORS=false`` on the API.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from commands.context import CommandContext
from commands.registry import set_bcrypt_rounds
from domain.ports.consistency import ConsistencyWaiter
from domain.ports.event_store import EventStore
from domain.ports.log import Log
from domain.ports.webhooks import WebhookStore
from infra.devices import DeviceControl, build_device_control
from infra.log.memory import MemoryLog
from infra.readmodels.database import ReadModelDb, postgres_readmodels, sqlite_readmodels
from infra.settings import Settings
from infra.webhooks import SqlWebhookStore
from projections.charge_sessions import ChargeSessionsProjection
from projections.credentials import CredentialsProjection
from projections.device_commands import DeviceCommandsProjection
from projections.ev_registry import EvRegistryProjection
from projections.forecast_models import ForecastModelsProjection
from projections.jobs import JobsProjection
from projections.myems_access import MyEmsAccessProjection  # MyEMS energy management (issue 14)
from projections.myems_commands import MyEmsCommandsProjection
from projections.myems_tariffs import MyEmsTariffsProjection  # issue 14
from projections.myems_virtual_meters import MyEmsVirtualMetersProjection  # issue 14
from projections.readings import ReadingsProjection
from projections.regional_energies import RegionalEnergiesProjection
from projections.registry import RegistryProjection
from projections.schedules import SchedulesProjection
from streams.audit_checkpoints import CheckpointWriter
from streams.consistency import CheckpointWaiter, RunnerWaiter
from streams.forecaster import FORECAST_TOPIC, ForecastProcessor
from streams.projection_processor import ProjectionProcessor
from streams.relay import Relay
from streams.runner import InProcessRunner, Processor, ProcessorLoop
from streams.scheduler import SCHEDULE_TOPICS, SchedulerProcessor, SolverOptions
from streams.topics import CATEGORY_TOPICS, TOPIC_JOBS, TOPIC_READINGS, TOPIC_REGISTRY
from streams.webhooks import RetryPolicy, WebhookDispatcher, WebhookWorker


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


def build_log(settings: Settings) -> Log:
    if settings.log == "kafka":
        from infra.log.kafka import KafkaLog

        return KafkaLog(settings.kafka_bootstrap_servers, partitions=settings.kafka_partitions)
    return MemoryLog(partitions=1)  # one partition: processors see the global order


def build_read_models(settings: Settings) -> ReadModelDb:
    if settings.read_models == "postgres":
        return postgres_readmodels(settings.read_models_url or settings.postgres_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return sqlite_readmodels(settings.read_models_path)


def build_processors(platform: Platform) -> list[Processor]:
    """Every processor of the platform, in one list (projections, forecasters, scheduler)."""
    engine = platform.read_models.write_engine
    return [
        ProjectionProcessor(RegistryProjection(), engine, [TOPIC_REGISTRY]),
        ProjectionProcessor(CredentialsProjection(), engine, [TOPIC_REGISTRY]),
        ProjectionProcessor(ReadingsProjection(), engine, [TOPIC_READINGS]),
        ProjectionProcessor(JobsProjection(), engine, [TOPIC_JOBS]),
        ProjectionProcessor(SchedulesProjection(), engine, list(SCHEDULE_TOPICS)),
        SchedulerProcessor(
            platform.store,
            engine,
            platform.read_models.read_engine,
            options=solver_options(platform.settings),
            consistency=platform.consistency,
        ),
        ProjectionProcessor(ForecastModelsProjection(), engine, [FORECAST_TOPIC]),
        *ev_processors(engine),
        ForecastProcessor(platform.store, engine),
        ProjectionProcessor(DeviceCommandsProjection(), engine, [CATEGORY_TOPICS["command"]]),
        ProjectionProcessor(MyEmsCommandsProjection(), engine, [TOPIC_REGISTRY]),
        ProjectionProcessor(MyEmsAccessProjection(), engine, [TOPIC_REGISTRY]),  # issue 14
        ProjectionProcessor(MyEmsTariffsProjection(), engine, [TOPIC_REGISTRY]),  # issue 14
        ProjectionProcessor(MyEmsVirtualMetersProjection(), engine, [TOPIC_REGISTRY, TOPIC_READINGS]),  # issue 14
    ]


def ev_processors(engine) -> list[Processor]:
    """The EV domain's projections: charge sessions (session events + EVSE readings), EV registry."""
    return [
        ProjectionProcessor(ChargeSessionsProjection(), engine, [TOPIC_REGISTRY, TOPIC_READINGS]),
        ProjectionProcessor(EvRegistryProjection(), engine, [TOPIC_REGISTRY]),
        ProjectionProcessor(RegionalEnergiesProjection(), engine, [TOPIC_REGISTRY, TOPIC_READINGS]),
    ]


def solver_options(settings: Settings) -> SolverOptions:
    """The scheduler's solver backend and limits, from the settings."""
    return SolverOptions(
        time_limit_s=settings.scheduler_time_limit_s,
        relative_gap=settings.scheduler_relative_gap,
        backend=settings.scheduler_backend,
    )


def build_webhook_store(settings: Settings) -> WebhookStore:
    """Webhooks and their delivery state: PostgreSQL with PostgreSQL read models, else ``webhooks.db``."""
    if settings.read_models == "postgres":
        return SqlWebhookStore.postgres(settings.read_models_url or settings.postgres_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqlWebhookStore.sqlite(settings.home / "webhooks.db")


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
    processors: list[Processor] = field(default_factory=list)
    runner: InProcessRunner | None = None
    consistency: ConsistencyWaiter = field(init=False)
    """Read-your-writes: one waiter per deployment (:func:`build_consistency_waiter`)."""
    devices: DeviceControl | None = None
    """Device gateways and the command dispatcher (run with the processors)."""
    webhooks: WebhookStore | None = None
    webhook_worker: WebhookWorker | None = None
    checkpoint_writer: CheckpointWriter | None = None

    @property
    def commands(self) -> CommandContext:
        return CommandContext(self.store)

    def start(self) -> None:
        """Run relay and processors in this process (embedded deployment)."""
        if self.runner is not None or not self.settings.run_processors:
            return
        start = min((p.checkpoint() for p in self.processors), default=0)
        relay = Relay(self.store, self.log, start)
        loops = [ProcessorLoop(p, self.log, published_position=lambda: relay.position) for p in self.processors]
        self.runner = InProcessRunner(relay, loops)
        self.runner.start()
        if self.devices is not None:
            self.devices.start()
        if self.webhooks is not None:
            policy = RetryPolicy(
                self.settings.webhook_max_attempts, self.settings.webhook_backoff_s, self.settings.webhook_max_backoff_s
            )
            self.webhook_worker = WebhookWorker(WebhookDispatcher(self.store, self.webhooks, policy=policy))
            self.webhook_worker.start()
        if self.settings.audit_checkpoint_interval_s > 0:
            path, interval = self.settings.home / "checkpoints.jsonl", self.settings.audit_checkpoint_interval_s
            self.checkpoint_writer = CheckpointWriter(self.store, self.audit_signing_key(), path, interval)
            self.checkpoint_writer.start()

    def audit_signing_key(self):
        """The Ed25519 key that signs audit checkpoints (:mod:`infra.audit_keys`)."""
        from infra.audit_keys import signing_key

        return signing_key(self.settings.home)

    def wait_for(
        self,
        position: int,
        processors: list[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """Block until processors have applied ``position``: :attr:`consistency`'s wait (tests, CLI)."""
        return self.consistency.wait_for(position, processors, timeout_s, stream_id)

    async def wait_for_async(
        self,
        position: int,
        processors: list[str] | None = None,
        timeout_s: float | None = None,
        stream_id: str | None = None,
    ) -> bool:
        """:meth:`wait_for` for coroutines."""
        return await self.consistency.wait_for_async(position, processors, timeout_s, stream_id)

    def stop(self) -> None:
        if self.devices is not None:
            self.devices.stop()
        if self.checkpoint_writer is not None:
            self.checkpoint_writer.stop()
            self.checkpoint_writer = None
        if self.webhook_worker is not None:
            self.webhook_worker.stop()
            self.webhook_worker = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.log.close()
        if self.webhooks is not None:
            self.webhooks.close()
        self.store.close()
        self.read_models.close()


def build_platform(settings: Settings | None = None) -> Platform:
    settings = settings or Settings()
    set_bcrypt_rounds(settings.bcrypt_rounds)
    platform = Platform(
        settings=settings,
        store=build_event_store(settings),
        log=build_log(settings),
        read_models=build_read_models(settings),
        token_secret=_token_secret(settings),
        webhooks=build_webhook_store(settings),
    )
    platform.consistency = build_consistency_waiter(platform)
    platform.processors = build_processors(platform)
    read_models = platform.read_models
    platform.devices = build_device_control(settings, platform.store, read_models.read_engine, read_models.write_engine)
    return platform


def build_consistency_waiter(platform: Platform) -> ConsistencyWaiter:
    """Embedded: the in-process runner's progress; distributed (processors in workers): the
    processors' checkpoints in the read-model database, per log partition."""
    timeout_s = platform.settings.consistency_timeout_s
    if platform.settings.run_processors:
        return RunnerWaiter(lambda: platform.runner, timeout_s)
    return CheckpointWaiter(lambda: platform.processors, getattr(platform.log, "partition_key", None), timeout_s)

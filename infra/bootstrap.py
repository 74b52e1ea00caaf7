"""The composition root: the one place that chooses adapters and wires the platform.

No string imports: :func:`build_platform` takes :class:`Settings` and returns a
:class:`Platform` holding every component (adapters wrapped in their telemetry decorators),
after :func:`prepare_storage`, the one step that creates tables. ``start()`` runs the
processors in threads: embedded, each follows the event store from its own checkpoint; with
Kafka, the relay and consumer loops. The distributed deployment runs them in workers instead
(``flexledger worker``) and sets ``FLEXLEDGER_RUN_PROCESSORS=false`` on the API.
The read-your-writes waiter is chosen per deployment (:func:`build_consistency_waiter`). It keeps
no globals of its own; it applies one process-wide setting, the bcrypt cost of password hashes.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from commands.context import CommandContext
from commands.registry import set_bcrypt_rounds
from domain.ports.checkpoints import CheckpointStore
from domain.ports.consistency import ConsistencyWaiter
from domain.ports.event_store import EventStore
from domain.ports.log import Log
from domain.ports.personal_keys import PersonalDataKeys
from domain.ports.webhooks import WebhookStore
from infra.checkpoints import SqlCheckpointStore
from infra.devices import DeviceControl, build_device_control
from infra.log.memory import MemoryLog
from infra.personal_data_store import SealingEventStore
from infra.personal_keys import PersonalDataCipher, SqlPersonalKeyStore
from infra.processes import ProcessRunner
from infra.readmodels.database import ReadModelDb, postgres_readmodels, sqlite_readmodels
from infra.readmodels.timescale import ReadingsStorage, prepare_readings_storage
from infra.settings import Settings
from infra.traced import TracedEventStore, TracedLog, TracedProcessor
from infra.webhooks import SecretBox, SqlWebhookStore
from projections.base import Projection
from projections.charge_sessions import ChargeSessionsProjection
from projections.credentials import CredentialsProjection
from projections.device_commands import DeviceCommandsProjection
from projections.ev_registry import EvRegistryProjection
from projections.forecast_models import ForecastModelsProjection
from projections.jobs import JobsProjection
from projections.myems_access import MyEmsAccessProjection  # MyEMS energy management (issue 14)
from projections.myems_commands import MyEmsCommandsProjection
from projections.myems_cost_centers import MyEmsCostCentersProjection  # issue 14
from projections.myems_offline_files import MyEmsOfflineFilesProjection  # issue 14
from projections.myems_tariffs import MyEmsTariffsProjection  # issue 14
from projections.myems_virtual_meters import MyEmsVirtualMetersProjection  # issue 14
from projections.readings import ReadingsProjection
from projections.regional_energies import RegionalEnergiesProjection
from projections.registry import RegistryProjection
from projections.schedules import SchedulesProjection
from streams.append_watch import AppendWatch
from streams.audit_checkpoints import CheckpointWriter
from streams.consistency import CheckpointWaiter, RunnerWaiter
from streams.doorbell import Doorbell
from streams.event_feed import EventFeed
from streams.follower import StoreFollower
from streams.forecaster import FORECAST_TOPIC, ForecastProcessor
from streams.progress_board import BoardFollower, ProgressBoard
from streams.projection_processor import ProjectionProcessor
from streams.relay import Relay
from streams.runner import InProcessRunner, Processor, ProcessorLoop
from streams.scheduler import SCHEDULE_TOPICS, SchedulerProcessor, SolverOptions
from streams.topics import CATEGORY_TOPICS, TOPIC_JOBS, TOPIC_READINGS, TOPIC_REGISTRY, all_topics
from streams.webhooks import RetryPolicy, WebhookDispatcher, WebhookWorker, http_sender


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
        projection(CredentialsProjection(), [TOPIC_REGISTRY]),
        projection(ReadingsProjection(), [TOPIC_READINGS]),
        projection(JobsProjection(), [TOPIC_JOBS]),
        projection(SchedulesProjection(), list(SCHEDULE_TOPICS)),
        SchedulerProcessor(
            platform.store,
            engine,
            platform.read_models.read_engine,
            options=solver_options(platform.settings),
            consistency=platform.consistency,
            checkpoints=checkpoints,
            infrastructure_errors=READ_MODEL_ERRORS,
        ),
        projection(ForecastModelsProjection(), [FORECAST_TOPIC]),
        *ev_processors(projection),
        ForecastProcessor(platform.store, engine, checkpoints=checkpoints),
        projection(DeviceCommandsProjection(), [CATEGORY_TOPICS["command"]]),
        projection(MyEmsCommandsProjection(), [TOPIC_REGISTRY]),
        projection(MyEmsAccessProjection(), [TOPIC_REGISTRY]),  # issue 14
        projection(MyEmsTariffsProjection(), [TOPIC_REGISTRY]),  # issue 14
        projection(MyEmsCostCentersProjection(), [TOPIC_REGISTRY]),  # issue 14
        projection(MyEmsOfflineFilesProjection(), [TOPIC_REGISTRY]),  # issue 14
        projection(MyEmsVirtualMetersProjection(), [TOPIC_REGISTRY, TOPIC_READINGS]),  # issue 14
    ]


def ev_processors(projection: Callable[[Projection, list[str]], Processor]) -> list[Processor]:
    """The EV domain's projections: charge sessions (session events + EVSE readings), EV registry."""
    return [
        projection(ChargeSessionsProjection(), [TOPIC_REGISTRY, TOPIC_READINGS]),
        projection(EvRegistryProjection(), [TOPIC_REGISTRY]),
        projection(RegionalEnergiesProjection(), [TOPIC_REGISTRY, TOPIC_READINGS]),
    ]


def traced(processors: list[Processor]) -> list[Processor]:
    """The processors in their telemetry decorators (``processor.<name>`` spans and lag; for
    projections also ``readmodel.write``), as every runner drives them."""
    return [TracedProcessor(p, projection=getattr(getattr(p, "projection", None), "name", None)) for p in processors]


READ_MODEL_ERRORS = (sa.exc.SQLAlchemyError,)
"""Errors of the read-model database: the platform's, never a trigger's (the scheduler retries)."""


def prepare_storage(platform: Platform) -> ReadingsStorage:
    """The one step that creates tables: the SQL event store's, the checkpoint store (every processor's,
    the relay's and the schedule setpoints' checkpoints), personal-data keys, webhooks, every
    processor's own, then the readings storage (TimescaleDB hypertable and aggregates when the
    extension is there, else a BRIN index on PostgreSQL; nothing more on SQLite). Idempotent."""
    create_store_tables = getattr(platform.store, "create_tables", None)  # SQL stores; KurrentDB has none
    if create_store_tables is not None:
        create_store_tables()
    platform.checkpoints.create_tables()
    if platform.personal_keys is not None:
        platform.personal_keys.create_tables()
    if platform.webhooks is not None:
        platform.webhooks.create_tables()
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


def build_webhook_store(settings: Settings, cipher: PersonalDataCipher) -> WebhookStore:
    """Webhooks and their delivery state: PostgreSQL with PostgreSQL read models, else ``webhooks.db``;
    signing secrets sealed with a platform key of the key store."""
    secrets_box = SecretBox(cipher)
    if settings.read_models == "postgres":
        return SqlWebhookStore.postgres(settings.read_models_url or settings.postgres_url, secrets_box)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqlWebhookStore.sqlite(settings.home / "webhooks.db", secrets_box)


def build_personal_keys(events: EventStore, read_models: ReadModelDb) -> SqlPersonalKeyStore:
    """Per-user data keys, outside the event log but beside it: in the SQL event store's database
    (backed up with it; read models can be dropped and rebuilt without losing a key), else
    (KurrentDB) in the read-model database."""
    return SqlPersonalKeyStore(getattr(events, "engine", None) or read_models.write_engine)


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
    runner: InProcessRunner | ProcessRunner | None = None
    consistency: ConsistencyWaiter = field(init=False)
    """Read-your-writes: one waiter per deployment (:func:`build_consistency_waiter`)."""
    devices: DeviceControl | None = None
    """Device gateways and the command dispatcher (run with the processors)."""
    webhooks: WebhookStore | None = None
    personal_keys: PersonalDataKeys | None = None
    """Per-user data keys of sealed personal fields (:mod:`domain.personal_data`)."""
    webhook_worker: WebhookWorker | None = None
    checkpoint_writer: CheckpointWriter | None = None
    readings_storage: ReadingsStorage | None = None
    progress_board: ProgressBoard | None = None
    """Set in the processors' process of a two-process deployment (:mod:`infra.processes`)."""
    progress_bell: Doorbell | None = None

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
        webhook_appends: AppendWatch | None = None  # default: the store's every append
        if isinstance(self.log, MemoryLog):
            if self.settings.processors_process and self.settings.event_store == "sqlite" and not self.progress_board:
                self.runner = ProcessRunner(self.settings, [p.name for p in self.processors], self.store)
                self.runner.start()  # the processors, devices, webhooks run in the second process
                return
            feed = EventFeed(self.store, window_values=self.settings.feed_window_values)
            board = self.progress_board
            bell = self.progress_bell
            follow = StoreFollower if board is None else functools.partial(BoardFollower, board=board, bell=bell)
            self.runner = InProcessRunner(None, [follow(p, feed) for p in traced(self.processors)], feed)
            webhook_appends = self._watch_feed(feed)
        else:
            start = min((p.checkpoint() for p in self.processors), default=0)
            relay = Relay(self.store, self.log, start)
            loops = [
                ProcessorLoop(p, self.log, published_position=lambda: relay.position) for p in traced(self.processors)
            ]
            self.runner = InProcessRunner(relay, loops)
        self.runner.start()
        if self.devices is not None:
            self.devices.start()
        if self.webhooks is not None:
            policy = RetryPolicy(
                self.settings.webhook_max_attempts, self.settings.webhook_backoff_s, self.settings.webhook_max_backoff_s
            )
            dispatcher = WebhookDispatcher(
                self.store, self.webhooks, http_sender(self.settings.webhook_timeout_s), policy=policy,
                allow_private=self.settings.webhook_allow_private, appends=webhook_appends,
            )  # fmt: skip
            self.webhook_worker = WebhookWorker(dispatcher)
            self.webhook_worker.start()
        if self.settings.audit_checkpoint_interval_s > 0:
            path, interval = self.settings.home / "checkpoints.jsonl", self.settings.audit_checkpoint_interval_s
            self.checkpoint_writer = CheckpointWriter(self.store, self.audit_signing_key(), path, interval)
            self.checkpoint_writer.start()

    def _watch_feed(self, feed: EventFeed) -> AppendWatch:
        """The pollers wait for appends of their topics on the followers' feed (embedded), not on
        every append of the store: the devices' pollers get theirs; returns the webhooks' watch."""
        if self.devices is not None:
            self.devices.dispatcher.appends = feed.watch([CATEGORY_TOPICS["command"]])
            if self.devices.setpoints is not None:
                self.devices.setpoints.appends = feed.watch([CATEGORY_TOPICS["schedule"]])
        return feed.watch(all_topics())

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
    read_models = build_read_models(settings)
    events = build_event_store(settings)
    keys = build_personal_keys(events, read_models)
    cipher = PersonalDataCipher(keys)
    platform = Platform(
        settings=settings,
        store=SealingEventStore(TracedEventStore(events), cipher),
        personal_keys=keys,
        log=build_log(settings),
        read_models=read_models,
        token_secret=_token_secret(settings),
        webhooks=build_webhook_store(settings, cipher),
        checkpoints=SqlCheckpointStore(read_models.write_engine),
    )
    platform.consistency = build_consistency_waiter(platform)
    platform.processors = build_processors(platform)
    platform.readings_storage = prepare_storage(platform)
    platform.devices = build_device_control(settings, platform.store, read_models.read_engine, platform.checkpoints)
    return platform


def build_consistency_waiter(platform: Platform) -> ConsistencyWaiter:
    """Embedded: the in-process runner's progress; distributed (processors in workers): the
    processors' checkpoints in the read-model database, per log partition."""
    timeout_s = platform.settings.consistency_timeout_s
    if platform.settings.run_processors:
        return RunnerWaiter(lambda: platform.runner, timeout_s)
    return CheckpointWaiter(lambda: platform.processors, getattr(platform.log, "partition_key", None), timeout_s)

"""The scheduler processor: on a state-of-charge event, solve the site's MILP, append the outcome.

Consumes :class:`~domain.schedules.ScheduleTriggered` (v3 trigger),
:class:`~domain.udi.UdiEventPosted` (v2.0 state of charge) and state-of-charge readings (a
``SensorDataRecorded`` on a device's ``state-of-charge`` sensor, decided as of the reading's
position by :class:`streams.soc_triggers.SocSensorIndex` and :mod:`domain.soc_readings`) from
the log. For each it builds the request (:mod:`streams.schedule_inputs`), solves it with the pure
core (:mod:`domain.scheduling`), then appends through :mod:`commands.scheduling`:
``ScheduleComputed`` + the power beliefs (source ``scheduler``) + ``JobFinished`` — or
``ScheduleFailed`` + ``JobFailed`` with the reason when the input cannot be scheduled.

**One world as of the trigger.** Everything the scheduler reads is as of the trigger's
position ``P`` in the event store:

* the registry (devices, their stored flex-models and sensors, the site's other devices, the
  asset tree's flex-context) is the registry events before ``P``
  (:class:`streams.registry_history.RegistryHistory`), not the registry read model;
* the device's last UDI event (for a state-of-charge reading) is the last one before ``P``;
* readings (prices, inflexible load, tariffs, its own earlier schedules) are read as known at
  the trigger's belief time (``prior``, else its recording time); before each trigger the
  scheduler waits (its :class:`~domain.ports.consistency.ConsistencyWaiter`, bounded) until the
  input read models hold every event before the trigger (embedded: exact; distributed: the
  trigger's log partition) and the beliefs of its own earlier schedules.

So solving a trigger again from history (a replay, an audit) sees the same inputs, also after an
asset's flex-model changed — unless data was later posted with a belief time before the trigger.

Exactly-once effect: every appended event id derives from the trigger's event id, so
reprocessing a trigger (a crash before the checkpoint, or a re-run from position 0) stores
nothing new. A trigger whose job already ended (its end is in the job's own stream) is skipped
without solving, unless ``recompute_existing`` (then the schedule is solved again and the
appends are no-ops). The checkpoint (per log partition, or ``*`` when following the store) is
kept in the shared checkpoint store (:mod:`domain.ports.checkpoints`); ``monotonic``
(injectable) paces its saves.

Errors of the input or the solver become ``ScheduleFailed`` (the client is told why); errors of
the infrastructure (database, event store) propagate, so the runner retries the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from commands.context import CommandContext, CommandError
from commands.readings import sensor_data_stream
from commands.scheduling import job_request, record_schedule_computed, record_schedule_failed
from domain.events import EventMetadata, RecordedEvent, utc_now
from domain.jobs import job_stream
from domain.ports.checkpoints import CheckpointStore, done_position, resume_position
from domain.ports.consistency import ConsistencyWaiter
from domain.ports.event_store import EventStore, EventStoreError
from domain.schedules import (
    ScheduleComputed,
    ScheduleFailed,
    job_outcome_event_id,
    schedule_id_for,
)
from domain.scheduling import FlexModelError, ScheduleError, problem_from_flex, solve
from domain.soc_readings import soc_reading_of
from domain.source_types import is_prediction_or_plan
from domain.udi import UdiEventPosted, udi_stream
from projections.myems_tariffs import with_tariff_prices  # issue 14
from streams.registry_history import RegistryAsOf, RegistryHistory
from streams.schedule_inputs import ScheduleRequest, SchedulingInputError, SocTrigger, request_for
from streams.schedule_outcome import asset_types, check_devices, computed_event
from streams.schedule_overrides import with_overrides  # issue 14
from streams.schedule_resolver import ReadModelResolver
from streams.soc_triggers import SocSensorIndex, reading_sensor_id
from streams.topics import CATEGORY_TOPICS

log = logging.getLogger(__name__)
TRIGGER_TYPES = frozenset({"ScheduleTriggered", "UdiEventPosted"})
SCHEDULE_TOPICS = (CATEGORY_TOPICS["udi"], CATEGORY_TOPICS["schedule"])
"""Where UDI events, schedule triggers and outcomes are (the schedules projection reads these)."""
TOPICS = (*SCHEDULE_TOPICS, CATEGORY_TOPICS["sensordata"])
"""The scheduler's topics: the schedule topics plus the readings (state-of-charge readings)."""
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (EventStoreError, OSError)
"""Errors of the platform, not of the trigger: they propagate (the runner retries the batch). The
composition root adds its read-model database's error classes (``infrastructure_errors``)."""
READINGS_PROJECTION = "projection.readings"
INPUT_READ_MODELS = (READINGS_PROJECTION, "projection.myems_tariffs")
"""The read models the solver reads its inputs from (prices, inflexible load, tariffs)."""
SAVE_INTERVAL_S = 1.0
"""Batches without triggers (most readings) save the checkpoint at most this often, and on idle."""


@dataclass(frozen=True)
class SolverOptions:
    """Solver per schedule: backend (``highs`` or ``scip``), wall time (s) and relative MIP gap.

    Set by ``FLEXLEDGER_SCHEDULER_BACKEND``, ``..._TIME_LIMIT_S`` and ``..._RELATIVE_GAP``
    (:class:`infra.settings.Settings`).
    """

    time_limit_s: float = 10.0
    relative_gap: float = 1e-4
    backend: str = "highs"


@dataclass
class SchedulerStats:
    solved: int = 0
    failed: int = 0
    skipped: int = 0
    last_solve_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    """The last (at most 20) unexpected errors, also logged with their traceback."""


class SchedulerProcessor:
    """A :class:`streams.runner.Processor` that turns triggers into schedule events."""

    name = "scheduler"

    def __init__(
        self,
        store: EventStore,
        engine: sa.Engine,
        read_engine: sa.Engine | None = None,
        options: SolverOptions = SolverOptions(),
        recompute_existing: bool = False,
        clock: Callable[[], datetime] = utc_now,
        consistency: ConsistencyWaiter | None = None,
        *,
        checkpoints: CheckpointStore,
        monotonic: Callable[[], float] = time.monotonic,
        infrastructure_errors: tuple[type[BaseException], ...] = (),
    ):
        self.store, self.engine = store, engine
        self.read_engine = read_engine or engine
        self.options, self.recompute_existing, self.clock = options, recompute_existing, clock
        self.topics = list(TOPICS)
        self.stats = SchedulerStats()
        self._saved: dict[str, int] | None = None
        self._unsaved: dict[str, int] = {}
        self.checkpoints, self.monotonic = checkpoints, monotonic
        self.infrastructure_errors = INFRASTRUCTURE_ERRORS + tuple(infrastructure_errors)
        self._saved_at = monotonic()
        self.consistency = consistency
        self._beliefs_position = 0
        self._beliefs_streams: set[str] = set()
        self.registry = RegistryHistory(store)  # one fold of the registry events, for both views
        self.soc_index = SocSensorIndex(self.registry)

    # -- Processor protocol -------------------------------------------------------------------
    def passes_over(self, recorded: RecordedEvent) -> bool:
        """Whether ``recorded`` can trigger nothing, told from its stored type and data: neither a
        trigger nor a measured reading (forecasts and schedules are no state of charge:
        :mod:`domain.soc_readings`). The store followers do not hand such events over
        (:mod:`streams.follower`); :meth:`process` ignores them too."""
        if recorded.type in TRIGGER_TYPES:
            return False
        return recorded.type != "SensorDataRecorded" or is_prediction_or_plan(recorded)

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        done = max(done_position(self._checkpoints(), partition), self._unsaved.get(partition, 0))
        last = done
        readings = [r.global_position for r in events if r.global_position > done and reading_sensor_id(r) is not None]
        if readings:
            self.soc_index.catch_up(max(readings))  # one read of the registry events per batch
        handled = False
        for recorded in events:
            if recorded.global_position <= done:
                continue
            if recorded.type in TRIGGER_TYPES:
                self.handle(recorded)
                handled = True
            elif (soc := self._soc_trigger(recorded)) is not None:
                self.handle(recorded, soc)
                handled = True
            last = max(last, recorded.global_position)
        if last > done:
            self._unsaved[partition] = last
        # triggers: saved at once (a crash before re-handles them: no-ops, the ids are deterministic);
        # other batches (readings, the scheduler's own outcomes) at most every SAVE_INTERVAL_S and on idle
        if handled or self.monotonic() - self._saved_at >= SAVE_INTERVAL_S:
            self.flush()
        return last

    def flush(self) -> None:
        """Save the checkpoints of batches processed since the last save (the runner calls this when idle)."""
        for partition, position in list(self._unsaved.items()):
            self._save(partition, position)
        self._unsaved.clear()
        self._saved_at = self.monotonic()

    def advance(self, partition: str, position: int) -> None:
        """Nothing for the scheduler in ``partition`` up to ``position``: saved with the next flush."""
        if position > max(done_position(self._checkpoints(), partition), self._unsaved.get(partition, 0)):
            self._unsaved[partition] = position

    def checkpoint(self) -> int:
        return resume_position(self.checkpoints.load(self.name))

    def reset(self) -> None:
        """Forget the checkpoints: the next run starts from position 0 (appending nothing new)."""
        self.checkpoints.forget(self.name)
        self._saved = None
        self._unsaved.clear()

    def _checkpoints(self) -> dict[str, int]:
        """The saved checkpoints per partition (read once; this processor is their only writer)."""
        if self._saved is None:
            self._saved = self.checkpoints.load(self.name)
        return self._saved

    def _save(self, partition: str, position: int) -> None:
        self.checkpoints.save(self.name, partition, position)
        self._checkpoints()[partition] = position

    # -- one trigger ----------------------------------------------------------------------------
    def _soc_trigger(self, recorded: RecordedEvent) -> SocTrigger | None:
        """The trigger of a state-of-charge reading, or ``None`` for any other event or reading."""
        sensor_id = reading_sensor_id(recorded)
        if sensor_id is None or not self.soc_index.is_candidate(sensor_id):
            return None
        link = self.soc_index.link_as_of(sensor_id, recorded.global_position)
        if link is None:
            return None
        reading = soc_reading_of(recorded.decode(), recorded.metadata.recorded_at)
        if reading is None:
            return None
        return SocTrigger(link, reading, self._last_udi_event(link.asset_id, recorded.global_position))

    def _last_udi_event(self, asset_id: int, before_position: int) -> UdiEventPosted | None:
        """The device's latest UDI event stored before ``before_position`` (from the event store)."""
        revision, page_size = -1, 20
        while True:
            page = self.store.read_stream(udi_stream(asset_id), from_revision=revision, backwards=True, limit=page_size)
            for recorded in page:
                if recorded.global_position < before_position:
                    return recorded.decode()
            if len(page) < page_size or page[-1].stream_revision == 0:
                return None
            revision = page[-1].stream_revision - 1

    def handle(self, recorded: RecordedEvent, soc: SocTrigger | None = None) -> None:
        """Solve one trigger (``soc``: a state-of-charge reading's) and append its outcome (idempotent)."""
        schedule_id = schedule_id_for(recorded.event_id)
        if not self.recompute_existing and self._job_ended(schedule_id):
            self.stats.skipped += 1
            return
        ctx = self._context(recorded)
        self._wait_for_inputs(recorded)
        self._wait_for_own_beliefs()
        registry = self.registry.as_of(recorded.global_position)
        try:
            request = request_for(registry, recorded, soc)
        except SchedulingInputError as exc:
            self._fail_without_request(ctx, recorded, soc, exc.code, str(exc), exc.field)
            return
        with self.read_engine.connect() as conn:
            outcome = self._solve(ReadModelResolver(conn, request, registry), request, registry)
        if isinstance(outcome, ScheduleComputed):
            position = record_schedule_computed(
                ctx, outcome, request.sensors, request.belief_time, request.job, request.soc_outputs
            )
            self._beliefs_position = max(self._beliefs_position, position)
            self._beliefs_streams.update(sensor_data_stream(s) for s in request.sensors)
            self.stats.solved += 1
        else:
            record_schedule_failed(ctx, outcome, request.job)
            self.stats.failed += 1

    def _job_ended(self, schedule_id) -> bool:
        """Whether the schedule's job already has its end (read from the job's own short stream)."""
        outcome_id = job_outcome_event_id(schedule_id)
        return any(r.event_id == outcome_id for r in self.store.read_stream(job_stream(schedule_id)))

    def _wait_for_inputs(self, recorded: RecordedEvent) -> None:
        """Wait (bounded) until the input read models hold every event stored before the trigger,
        so prices or load recorded just before it are seen, however far those projections lag.

        Embedded: exact (the runner knows every processor's position). Distributed: the waiter
        follows the trigger's own log partition only (see :class:`streams.consistency.CheckpointWaiter`)."""
        if self.consistency is None:
            return
        followed = [name for name in INPUT_READ_MODELS if self.consistency.follows([name])]
        if followed:
            self.consistency.wait_for(recorded.global_position - 1, followed, stream_id=recorded.stream_id)

    def _wait_for_own_beliefs(self) -> None:
        """Wait (bounded) until the readings read model holds this scheduler's own earlier schedules
        (they are the planned load of sibling devices): solving then sees what a replay will see.

        Per written stream, so the distributed waiter can find the log partition to follow."""
        if self.consistency is None or not self._beliefs_position:
            return
        for stream_id in sorted(self._beliefs_streams):
            self.consistency.wait_for(self._beliefs_position, [READINGS_PROJECTION], stream_id=stream_id)
        self._beliefs_streams.clear()

    def _context(self, recorded: RecordedEvent) -> CommandContext:
        meta = EventMetadata(
            actor="scheduler",
            source="scheduler",
            causation_id=str(recorded.event_id),
            correlation_id=recorded.metadata.correlation_id,
            traceparent=recorded.metadata.traceparent,
        )
        return CommandContext(self.store, self.clock, meta)

    def _solve(
        self, resolver: ReadModelResolver, request: ScheduleRequest, registry: RegistryAsOf
    ) -> ScheduleComputed | ScheduleFailed:
        try:
            check_devices(request)
            flex_context = with_tariff_prices(  # issue 14: a flex-context may name a tariff, as known at the trigger
                resolver.conn, request.asset_id, request.flex_context, request.start, request.end, request.resolution,
                as_of=request.belief_time,
            )  # fmt: skip
            problem = problem_from_flex(
                request.flex_model, flex_context, start=request.start, end=request.end,
                resolution=request.resolution, resolve_sensor=resolver, asset_types=asset_types(registry, request),
            )  # fmt: skip
            problem, held = with_overrides(problem, registry)  # issue 14: MyEMS operator schedules as constraints
            request.notes.extend(held)
            result = solve(
                problem, time_limit_s=self.options.time_limit_s, relative_gap=self.options.relative_gap,
                backend=self.options.backend,
            )  # fmt: skip
        except self.infrastructure_errors:
            raise
        except FlexModelError as exc:
            return self._failed(request, exc.code, exc.message, exc.field)
        except ScheduleError as exc:
            return self._failed(request, "SOLVER_FAILED", str(exc), None)
        except (SchedulingInputError, CommandError) as exc:
            return self._failed(request, exc.code, str(exc), exc.field)
        except Exception as exc:  # noqa: BLE001 - recorded as the job's failure and logged, never dropped
            log.exception("scheduler: unexpected error for schedule %s", request.schedule_id)
            self.stats.errors = [*self.stats.errors[-19:], f"{type(exc).__name__}: {exc}"]
            return self._failed(request, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", None)
        self.stats.last_solve_s = result.build_time_s + result.solve_time_s
        return computed_event(request, result)

    @staticmethod
    def _failed(request: ScheduleRequest, code: str, reason: str, field: str | None) -> ScheduleFailed:
        return ScheduleFailed(
            schedule_id=request.schedule_id, trigger=request.trigger, asset_id=request.asset_id,
            udi_event_id=request.udi_event_id, sensor_ids=request.sensor_ids, code=code, reason=reason, field=field,
        )  # fmt: skip

    def _fail_without_request(
        self, ctx: CommandContext, recorded: RecordedEvent, soc: SocTrigger | None, code: str, reason: str, field
    ) -> None:
        """The trigger names something the read models do not know (e.g. a deleted sensor)."""
        event = recorded.decode()
        schedule_id = schedule_id_for(recorded.event_id)
        if soc is not None:
            asset_id, sensor_id, trigger = soc.link.asset_id, soc.link.power_sensor_id, "reading"
        else:
            asset_id, sensor_id = getattr(event, "asset_id", 0), getattr(event, "sensor_id", None)
            trigger = "udi" if recorded.type == "UdiEventPosted" else "api"
        failed = ScheduleFailed(
            schedule_id=schedule_id, trigger=trigger, asset_id=asset_id,
            udi_event_id=getattr(event, "udi_event_id", None), code=code, reason=reason, field=field,
        )  # fmt: skip
        job = job_request(schedule_id, asset_id, sensor_id, {"trigger": trigger})
        record_schedule_failed(ctx, failed, job)
        self.stats.failed += 1

"""The ``flexledger`` command line (typer). Every command builds the platform from settings.

``--data-dir`` sets ``FLEXLEDGER_HOME`` for the embedded deployment (default ``./var``).
Heavy modules (the platform, River, OR-Tools) load inside the commands that need them, so
``--help`` answers at once. Expected errors (bad input, unknown ids) print one line
``error: ...`` and exit with status 1, never a traceback (:func:`main`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from domain.registry import USER_ROLES
from infra import cli_accounts, cli_audit, cli_users
from infra.cli_common import DataDir, console, error_console, expected_errors, one_line, platform_for
from infra.settings import Settings

if TYPE_CHECKING:
    from infra.bootstrap import Platform

app = typer.Typer(help="flexledger: event-sourced platform for EV charging and energy flexibility.")
users_app = typer.Typer(help="Manage users.")
import_app = typer.Typer(help="Import data.")
projections_app = typer.Typer(help="Inspect and rebuild read models.")
events_app = typer.Typer(help="Read the event store.")
audit_app = typer.Typer(help="Audit the event store.")
app.add_typer(users_app, name="users")
app.add_typer(import_app, name="import")
app.add_typer(projections_app, name="projections")
app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.add_typer(cli_accounts.accounts_app, name="accounts")
_platform = platform_for


def _account_id_by_name(platform: Platform, name: str) -> int | None:
    """Find an account by name in the event store (works before any projection ran)."""
    from domain.registry import AccountRegistered, evolve_account

    accounts: dict[int, AccountRegistered | None] = {}  # renamed or deleted since (MyEMS cost centers)
    position = 0
    types = ["AccountRegistered", "AccountChanged", "AccountDeleted"]
    while batch := platform.store.read_all(position, 1000, types=types):
        for recorded in batch:
            event = recorded.decode()
            accounts[event.account_id] = evolve_account(accounts.get(event.account_id), event)
        position = batch[-1].global_position
    return next((i for i, account in accounts.items() if account is not None and account.name == name), None)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default FLEXLEDGER_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default FLEXLEDGER_PORT, 8000).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Start the API with the embedded runner (relay, projections, processors)."""
    from api.app import create_app
    from infra import http_server
    from infra.demo import DEMO_ACCOUNT, DEMO_EMAIL, DEMO_PASSWORD
    from infra.telemetry import configure_telemetry

    configure_telemetry("flexledger-api")
    platform = _platform(data_dir)
    host, port = host or platform.settings.host, port or platform.settings.port
    url = f"http://{host}:{port}"
    console.print(f"flexledger on [bold]{url}[/]  data: {platform.settings.home.resolve()}")
    console.print(f"  dashboard:      {url}/")
    console.print(f"  API docs:       {url}/docs (ReDoc: {url}/redoc)", soft_wrap=True)
    console.print(f"  first API call: curl -s {url}/api/  (then POST /api/requestAuthToken: README)", soft_wrap=True)
    if _account_id_by_name(platform, DEMO_ACCOUNT) is not None:
        console.print(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    logging.basicConfig(level=platform.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    http_server.serve(create_app(platform), host, port, platform.settings)  # parser errors as JSON too
    platform.close()


@app.command()
def demo(
    data_dir: DataDir = None,
    regenerate_slices: Annotated[bool, typer.Option(help="Rewrite infra/demo_data from ../shared/data.")] = False,
) -> None:
    """Load the demo account (a charge site with EVSEs, real load and prices); idempotent."""
    from infra.demo import DEMO_ACCOUNT, DEMO_EMAIL, DEMO_PASSWORD, seed_demo
    from infra.demo_slices import regenerate_slices as regenerate
    from infra.shared_data import shared_data_dir

    if regenerate_slices:
        shared = shared_data_dir()
        if shared is None:
            raise typer.BadParameter("../shared/data not found (set FLEXLEDGER_SHARED_DATA)")
        regenerate(shared)
    platform = _platform(data_dir)
    try:
        ids = seed_demo(platform.commands, _account_id_by_name(platform, DEMO_ACCOUNT))
        console.print("demo data loaded" if ids else "demo data already present")
        if ids:
            _compute_demo_schedule_and_forecast(platform, ids)
            console.print(
                f"demo data from {ids.data_start:%Y-%m-%d} to {ids.data_end:%Y-%m-%d} (UTC; real data moved in time, "
                "see infra/demo_data/README.md)", soft_wrap=True
            )
        console.print(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    finally:
        platform.close()


def _compute_demo_schedule_and_forecast(platform, ids) -> None:
    """Run the processors over the demo's events, then schedule the first EVSE and wait for it."""
    from infra.demo import schedule_demo_evse

    with console.status("computing the demo's forecasts and schedule..."):
        platform.start()
        _settle(platform, "the processors did not catch up with the demo data within 5 minutes")
        schedule_demo_evse(platform.commands, ids)
        _settle(platform, "the demo schedule was not computed within 5 minutes")


def _settle(platform: Platform, failure: str, timeout_s: float = 300.0) -> None:
    """Wait until every processor reached the head and appended nothing more (bounded)."""
    deadline = time.monotonic() + timeout_s
    while True:
        head = platform.store.head_position()
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not platform.wait_for(head, timeout_s=remaining):
            console.print(f"[red]error:[/] {failure}")
            raise typer.Exit(1)
        if platform.store.head_position() == head:
            return


@app.command()
def worker(
    data_dir: DataDir = None,
    relay: Annotated[bool, typer.Option(help="Also run the relay (event store -> Kafka); one per deployment.")] = False,
    runner: Annotated[str, typer.Option(help="confluent (plain consumer loop) or faust.")] = "confluent",
) -> None:
    """Run the processors against Kafka (distributed deployment); workers share partitions."""
    from infra.telemetry import configure_telemetry
    from infra.worker import run_worker

    if data_dir is not None:
        os.environ["FLEXLEDGER_HOME"] = str(data_dir)
    configure_telemetry("flexledger-worker")
    run_worker(Settings(), relay=relay, runner=runner)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    role: Annotated[list[str], typer.Option(help=f"Role; repeat for several. One of: {', '.join(USER_ROLES)}.")],
    account: Annotated[str, typer.Option(help="Account name; created when missing.")] = "Default",
    data_dir: DataDir = None,
) -> None:
    """Create a user (and its account when missing)."""
    from commands import registry as cmd

    platform = _platform(data_dir)
    try:
        ctx = platform.commands
        account_id = _account_id_by_name(platform, account)
        if account_id is None:
            account_id = cmd.register_account(ctx, cmd.RegisterAccount(name=account))
        user_id = cmd.register_user(
            ctx, cmd.RegisterUser(email=email, password=password, account_id=account_id, roles=role)
        )
        console.print(f"user {user_id} <{email}> in account {account_id} ({account})")
    finally:
        platform.close()


@import_app.command("readings")
def import_readings_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: datetime,value")],
    sensor: Annotated[int, typer.Option(help="Sensor id.")],
    unit: Annotated[str | None, typer.Option(help="Unit of the values (default: the sensor's).")] = None,
    source: Annotated[str, typer.Option(help="Data source name.")] = "import",
    timezone: Annotated[
        str | None, typer.Option(help="IANA timezone for datetimes without an offset (default: refuse them).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import readings from a CSV file (idempotent: a re-import stores nothing twice).

    One reading per line: ``datetime,value`` (ISO 8601 with an offset); a header line is detected.
    """
    from infra.importer import import_readings

    platform = _platform(data_dir)
    started = time.perf_counter()
    try:
        with Progress(console=console) as progress:
            task = progress.add_task(f"sensor {sensor}", total=None)
            result = import_readings(
                platform.commands,
                sensor,
                file,
                unit,
                source,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                timezone=timezone,
            )
    finally:
        platform.close()
    elapsed = time.perf_counter() - started
    console.print(
        f"{result.read} readings: {result.new} new, {result.already_stored} already stored "
        f"({elapsed:.2f}s, {result.read / max(elapsed, 1e-9):,.0f}/s)"
    )


@import_app.command("sessions")
def import_sessions_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="ACN-Data or Trondheim sessions CSV")],
    account: Annotated[str, typer.Option(help="Name of the account that owns the EVSEs.")],
    site: Annotated[str | None, typer.Option(help="Name of the charge site asset (default: the format).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Import charge sessions as charger events (idempotent: a re-import stores nothing twice)."""
    from infra.session_import import import_sessions

    platform = _platform(data_dir)
    started = time.perf_counter()
    try:
        account_id = _account_id_by_name(platform, account)
        if account_id is None:
            console.print(f"[red]no account named {account!r}[/red]")
            raise typer.Exit(1)
        with Progress(console=console) as progress:
            task = progress.add_task(f"sessions {file.name}", total=None)
            count = import_sessions(
                platform.commands, account_id, file, site,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        platform.close()
    elapsed = time.perf_counter() - started
    console.print(f"{count} sessions in {elapsed:.2f}s")


@projections_app.command("status")
def projections_status(data_dir: DataDir = None) -> None:
    """Each processor's checkpoint (read models, forecaster, scheduler) and its lag behind the store."""
    platform = _platform(data_dir)
    try:
        head = platform.store.head_position()
        storage = platform.readings_storage
        if storage is not None and storage.mode != "none":
            console.print(str(storage))
        table = Table("processor", "checkpoint", "head", "lag (events)")
        for processor in platform.processors:
            position = processor.checkpoint()
            table.add_row(processor.name, str(position), str(head), str(max(head - position, 0)))
        console.print(table)
        _print_projection_failures(platform, limit=10)
    finally:
        platform.close()


def _print_skipped(platform: Platform, projection: str) -> None:
    from projections.base import count_failures

    with platform.read_models.read_engine.connect() as conn:
        skipped = count_failures(conn).get(projection, 0)
    if skipped:
        console.print(f"[yellow]{skipped} events skipped[/] (see: flexledger projections failures {projection})")


def _print_projection_failures(platform: Platform, limit: int, projection: str | None = None) -> int:
    """Print the events projections skipped (newest first, at most ``limit``); returns how many exist."""
    from projections.base import count_failures, list_failures

    with platform.read_models.read_engine.connect() as conn:
        counts = count_failures(conn)
        rows = list_failures(conn, projection, limit)
    total = counts.get(projection, 0) if projection else sum(counts.values())
    if not total:
        console.print("no projection failures")
        return 0
    table = Table("projection", "position", "event id", "type", "stream", "error", title=f"{total} skipped events")
    for row in rows:
        table.add_row(
            row["projection"], str(row["position"]), row["event_id"], row["event_type"], row["stream_id"], row["error"]
        )
    console.print(table)
    return total


@projections_app.command("failures")
def projections_failures(
    projection: Annotated[str | None, typer.Argument(help="Only this projection.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100,
    data_dir: DataDir = None,
) -> None:
    """List the events projections could not apply and skipped (exit code 1 when there are any)."""
    platform = _platform(data_dir)
    try:
        total = _print_projection_failures(platform, limit, projection)
    finally:
        platform.close()
    raise typer.Exit(1 if total else 0)


@projections_app.command("rebuild")
def projections_rebuild(name: str, data_dir: DataDir = None) -> None:
    """Replay the event store into fresh tables of one projection (stop the server first).

    ``readings`` on PostgreSQL: the TimescaleDB continuous aggregates are dropped first (the
    table cannot be dropped under them) and set up again afterwards.
    """
    from infra.readmodels.timescale import drop_readings_aggregates, prepare_readings_storage
    from projections.replay import rebuild

    platform = _platform(data_dir)
    try:
        found = {p.projection.name: p for p in platform.processors if hasattr(p, "projection")}
        if name not in found:
            raise typer.BadParameter(f"unknown projection {name!r}; known: {', '.join(sorted(found))}")
        if name == "readings":
            drop_readings_aggregates(platform.read_models)
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task(f"rebuild {name}", total=platform.store.head_position())
            applied = rebuild(
                platform.store,
                platform.read_models.write_engine,
                found[name].projection,
                platform.checkpoints,
                on_progress=lambda position, head: progress.update(task, completed=position, total=head),
            )
        elapsed = time.perf_counter() - started
        console.print(f"{applied} events replayed into {name} in {elapsed:.2f}s")
        if name == "readings":
            console.print(str(prepare_readings_storage(platform.read_models)))
        _print_skipped(platform, name)
    finally:
        platform.close()


@events_app.command("tail")
def events_tail(
    from_position: Annotated[int, typer.Option("--from", help="Start after this global position.")] = 0,
    follow: Annotated[bool, typer.Option(help="Keep printing new events.")] = False,
    data: Annotated[bool, typer.Option("--data", help="Also print each event's payload (JSON).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print events in global order (``--follow`` to continue live)."""
    import threading

    from domain.credentials import is_private
    from domain.ports.event_store import subscribe

    platform = _platform(data_dir)
    stop = threading.Event()
    try:
        for batch in subscribe(platform.store, from_position, stop=stop):
            for e in batch:
                if is_private(e.stream_id):  # credentials are never shown
                    continue
                console.print(f"{e.global_position:>8} {e.metadata.recorded_at.isoformat()} {e.stream_id} {e.type}")
                if data:
                    console.print(json.dumps(e.data, default=str), soft_wrap=True, markup=False, highlight=False)
            if not follow and batch[-1].global_position >= platform.store.head_position():
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        platform.close()


cli_users.register(users_app)
cli_audit.register(audit_app)


def main() -> None:
    """The ``flexledger`` entry point: runs the CLI, turning expected errors into one line and exit 1."""
    try:
        app()
    except Exception as error:  # SystemExit (help, usage errors) is no Exception: click handled it
        if not isinstance(error, expected_errors()):
            raise
        error_console.print(f"error: {one_line(error)}", soft_wrap=True, markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Latency from a state-of-charge event to its schedule being served (embedded deployment).

Starts ``flexledger serve`` (SQLite event store, in-process log and runner, SQLite read models)
in a subprocess, builds a site over the v3 API (day-ahead prices, a battery with a 15-minute
power sensor and a state-of-charge sensor named in its flex-model), then repeatedly, with
``--trigger udi`` (default):

1. ``POST /api/v2_0/postUdiEvent`` — a ``soc-with-targets`` event (new event id each time; the
   planning horizon is FlexMeasures' 48 hours = 192 steps, so every event is a 192-step MILP),
2. ``GET /api/v2_0/getDeviceMessage`` for that event, until it answers 200 with values;

or with ``--trigger reading``:

1. ``POST /api/v3_0/sensors/{soc sensor}/data`` — one state-of-charge reading at the current
   quarter hour (a 192-step MILP as well),
2. ``GET /api/v3_0/sensors/{power sensor}/schedules/latest`` until it serves a new schedule.

The figure is the wall time from sending 1. to receiving the answer of 2., over sequential
requests on one keep-alive connection. Prints p50, p90, p99 and max.

Under load (issue #18: p99 <= 50 ms for a reading, <= 40 ms for a UDI event, at 50 events/s on
top of the 16-client ingest load): ``--load-clients 16`` keeps 16 clients posting 96-value days
to another sensor for the whole measurement (``bench.ingest.http_throughput``, its readings/s
printed), and ``--rate 50`` sends the measured events open loop, one every 1/50 s, each in its
own thread, round robin to ``--sites`` batteries (default one per 0.5 s of events: each
battery's events come 0.5 s apart, so "a new schedule" is the one of that reading, and a UDI
event is not overtaken by its device's next one, while latencies stay under 0.5 s); events that
fail are counted and printed, not measured.

Run: ``.venv/bin/python bench/schedule_latency.py [--trigger udi|reading] [--events 300] [--warmup 20]
[--load-clients 16 --rate 50]``
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, percentile, running_server, temp_home  # noqa: E402
from bench.ingest import _setup_sensor, http_throughput  # noqa: E402

DAY = datetime(2015, 6, 2, tzinfo=UTC)
PRICE_DAYS = 30
BATTERY_MODEL = {"soc-max": "100 kWh", "soc-min": "5 kWh", "power-capacity": "20 kW", "roundtrip-efficiency": "90%"}


def _post(client: httpx.Client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    if response.status_code >= 300:
        raise RuntimeError(f"{path}: {response.status_code} {response.text}")
    return response.json()


def build_site(client: httpx.Client, price_start: datetime, link_soc_sensor: bool) -> dict[str, int]:
    """Ids of a site with prices from ``price_start`` and a battery: account, battery, power, soc.

    ``link_soc_sensor``: the battery's flex-model names the soc sensor (its readings trigger
    schedules, and every schedule also writes the planned state of charge there).
    """
    types = {t["name"]: t["id"] for t in client.get("/api/v3_0/assets/types").json()}
    market = _post(client, "/api/v3_0/assets", {"name": "market", "generic_asset_type_id": types["market"]})
    prices = _post(
        client, "/api/v3_0/sensors",
        {"name": "prices", "unit": "EUR/MWh", "event_resolution": "PT1H", "generic_asset_id": market["id"]},
    )  # fmt: skip
    values = [30.0 if h % 24 < 6 or h % 24 >= 22 else 60.0 + (h % 24) for h in range(24 * PRICE_DAYS)]
    _post(
        client, f"/api/v3_0/sensors/{prices['id']}/data",
        {"values": values, "start": price_start.isoformat(), "duration": f"P{PRICE_DAYS}D", "unit": "EUR/MWh"},
    )  # fmt: skip
    site = _post(
        client, "/api/v3_0/assets",
        {"name": "site", "generic_asset_type_id": types["charge_site"],
         "flex_context": {"consumption-price": {"sensor": prices["id"]}, "site-power-capacity": "50 kW"}},
    )  # fmt: skip
    battery = _post(
        client, "/api/v3_0/assets",
        {"name": "battery", "generic_asset_type_id": types["battery"], "parent_asset_id": site["id"],
         "flex_model": BATTERY_MODEL},
    )  # fmt: skip
    power, soc = (
        _post(
            client, "/api/v3_0/sensors",
            {"name": name, "unit": unit, "event_resolution": "PT15M", "generic_asset_id": battery["id"],
             "timezone": "Europe/Amsterdam"},
        )["id"]
        for name, unit in (("power", "kW"), ("state of charge", "kWh"))
    )  # fmt: skip
    model = {**BATTERY_MODEL, "sensor": power, **({"state-of-charge": {"sensor": soc}} if link_soc_sensor else {})}
    response = client.patch(f"/api/v3_0/assets/{battery['id']}", json={"flex_model": model})
    if response.status_code != 200:
        raise RuntimeError(f"PATCH asset: {response.status_code} {response.text}")
    return {"account": battery["account_id"], "battery": battery["id"], "power": power, "soc": soc}


def one_udi_event(client: httpx.Client, site: dict[str, int], event_id: int) -> float:
    """Seconds from posting UDI event ``event_id`` to getDeviceMessage serving its schedule."""
    at = DAY + timedelta(minutes=15 * event_id)
    address = f"ea1.2018-06.io.flexmeasures.company:{site['account']}:{site['battery']}:{event_id}:soc-with-targets"
    message = {
        "type": "PostUdiEventRequest", "event": address, "value": 10 + event_id % 50, "unit": "kWh",
        "datetime": at.isoformat(), "targets": [{"value": 80, "datetime": (at + timedelta(hours=6)).isoformat()}],
    }  # fmt: skip
    started = time.perf_counter()
    posted = client.post("/api/v2_0/postUdiEvent", json=message)
    if posted.status_code != 200:
        raise RuntimeError(f"postUdiEvent: {posted.status_code} {posted.text}")
    query = {"type": "GetDeviceMessageRequest", "event": address}
    while True:
        answer = client.get("/api/v2_0/getDeviceMessage", params=query)
        if answer.status_code == 200 and answer.json()["values"]:
            return time.perf_counter() - started
        if answer.json().get("message") != "Scheduling job waiting to be processed.":
            raise RuntimeError(f"getDeviceMessage: {answer.status_code} {answer.text}")


def this_quarter() -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)


def one_reading(client: httpx.Client, site: dict[str, int], event_id: int) -> float:
    """Seconds from posting a state-of-charge reading to ``schedules/latest`` serving its schedule."""
    latest = f"/api/v3_0/sensors/{site['power']}/schedules/latest"
    before = client.get(latest)
    previous = before.json().get("schedule") if before.status_code == 200 else None
    body = {"values": [10 + event_id % 50], "start": this_quarter().isoformat(), "duration": "PT15M", "unit": "kWh"}
    started = time.perf_counter()
    posted = client.post(f"/api/v3_0/sensors/{site['soc']}/data", json=body)
    if posted.status_code != 200:
        raise RuntimeError(f"POST data: {posted.status_code} {posted.text}")
    while True:
        answer = client.get(latest)
        if answer.status_code == 200 and answer.json()["schedule"] != previous:
            return time.perf_counter() - started
        if answer.status_code not in (200, 202, 404):
            raise RuntimeError(f"schedules/latest: {answer.status_code} {answer.text}")


TRIGGERS = {
    "udi": (one_udi_event, "postUdiEvent -> getDeviceMessage"),
    "reading": (one_reading, "state-of-charge reading -> schedules/latest"),
}


@contextmanager
def ingest_load(base: str, token: str, clients: int):
    """``clients`` clients posting 96-value days to a sensor of their own until the block ends;
    yields a list that then holds the load's readings/s per round of 20 posts per client."""
    rates: list[float] = []
    if clients <= 0:
        yield rates
        return
    sensor, stop = _setup_sensor(base, token), threading.Event()

    def post_rounds() -> None:
        day = 0
        while not stop.is_set():
            rates.append(http_throughput(base, token, sensor, 20 * clients, clients, first_day=day))
            day += 20 * clients

    thread = threading.Thread(target=post_rounds, daemon=True)
    thread.start()
    try:
        yield rates
    finally:
        stop.set()
        thread.join()


def open_loop(
    one_event: Callable[[int], float], first: int, count: int, rate_per_s: float, failures: list[str]
) -> list[float]:
    """Latencies of ``count`` events started every 1/rate s, each in its own thread; the errors
    of events that failed (e.g. a UDI event overtaken by the next one of its device) go to ``failures``."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(event_id: int) -> None:
        try:
            latency = one_event(event_id)
        except (RuntimeError, httpx.HTTPError) as error:
            with lock:
                failures.append(str(error)[:200])
            return
        with lock:
            latencies.append(latency)

    threads, started = [], time.perf_counter()
    for i in range(count):
        delay = started + i / rate_per_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        threads.append(threading.Thread(target=one, args=(first + i,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trigger", choices=sorted(TRIGGERS), default="udi", help="what asks for the schedule")
    parser.add_argument("--events", type=int, default=300, help="measured state-of-charge events")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured events first")
    parser.add_argument("--load-clients", type=int, default=0, help="clients of a 96-value ingest load meanwhile")
    parser.add_argument("--rate", type=float, default=0.0, help="measured events/s, open loop (0: one after another)")
    parser.add_argument("--sites", type=int, default=0, help="batteries (reading trigger; 0: one per 0.5 s of events)")
    args = parser.parse_args()
    with running_server(temp_home()) as (base, token), httpx.Client(
        base_url=base, headers={"Authorization": token}, timeout=60, limits=httpx.Limits(max_connections=64)
    ) as client:
        one_event, label = TRIGGERS[args.trigger]
        yesterday = this_quarter().replace(minute=0) - timedelta(days=1)
        udi = args.trigger == "udi"
        count = args.sites or max(1, math.ceil(args.rate / 2))  # each site's events come 0.5 s apart
        sites = [build_site(client, DAY if udi else yesterday, link_soc_sensor=not udi) for _ in range(count)]

        def event(event_id: int) -> float:
            return one_event(client, sites[event_id % len(sites)], event_id)

        for event_id in range(1, args.warmup + 1):
            event(event_id)
        first = args.warmup + 1
        failures: list[str] = []
        with ingest_load(base, token, args.load_clients) as load_rates:
            if args.rate > 0:
                latencies = open_loop(event, first, args.events, args.rate, failures)
            else:
                latencies = [event(i) for i in range(first, first + args.events)]
    _report(latencies, label, args, load_rates, len(sites))
    if failures:
        print(f"  {len(failures)} of {args.events} events failed, e.g. {failures[0]}")


def _report(latencies: list[float], label: str, args, load_rates: list[float], sites: int) -> None:
    ms = [x * 1000 for x in latencies]
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    pace = f"{args.rate:g} events/s open loop over {sites} site(s)" if args.rate > 0 else "one after another"
    under = (f", with {args.load_clients} ingest clients at {median(load_rates):,.0f} readings/s (median of "
             f"{len(load_rates)} rounds)" if load_rates else "")  # fmt: skip
    print(f"{label} (embedded, 192-step battery MILP), {len(ms)} events, {pace}{under} "
          f"(load average {' '.join(load)}):")  # fmt: skip
    print(f"  p50 {median(ms):7.1f} ms   p90 {percentile(ms, 90):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   "
          f"max {max(ms):7.1f} ms   (goals under load: p99 <= 50 ms reading, <= 40 ms UDI event)")  # fmt: skip


if __name__ == "__main__":
    main()

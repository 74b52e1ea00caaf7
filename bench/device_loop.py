"""Latency of the closed loop: a charger's state-of-charge reading to the charging profile at the charger.

Starts ``flexledger serve`` (embedded: SQLite, in-process runner) with the OCPP central system on
a free port, builds the site of ``bench/schedule_latency.py`` (prices, a 20 kW battery) and makes
the battery an OCPP charger that follows its schedules (``schedule_setpoints``; its ``SoC``
measurand feeds a % state-of-charge sensor named in the flex-model). A simulated OCPP 1.6J charger
connects over a real WebSocket, then repeatedly sends MeterValues with a new SoC and waits until the
SetChargingProfile of the resulting schedule arrives (its answer, Accepted, is sent at once).
Prints p50/p90/p99/max of the wall time from sending MeterValues to receiving the profile.

Run: ``.venv/bin/python bench/device_loop.py [--readings 50] [--warmup 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, median, percentile, running_server, temp_home  # noqa: E402
from bench.schedule_latency import BATTERY_MODEL, build_site  # noqa: E402
from infra.gateways.ocpp_charger import connected_charger  # noqa: E402

KEY = "bench-charger-key"


def make_charger(client: httpx.Client, site: dict[str, int]) -> None:
    """A % SoC sensor in the battery's flex-model, and the battery as an OCPP charger following schedules."""
    soc = client.post("/api/v3_0/sensors", json={
        "name": "soc %", "unit": "%", "event_resolution": "PT15M", "generic_asset_id": site["battery"],
        "timezone": "Europe/Amsterdam"}).json()["id"]  # fmt: skip
    model = {**BATTERY_MODEL, "sensor": site["power"], "state-of-charge": {"sensor": soc}}
    attributes = {"schedule_setpoints": True, "ocpp": {
        "charge_point_id": "CP-BENCH", "password_sha256": hashlib.sha256(KEY.encode()).hexdigest(),
        "sensors": {"SoC": soc}}}  # fmt: skip
    response = client.patch(f"/api/v3_0/assets/{site['battery']}", json={"flex_model": model,
                                                                          "attributes": attributes})
    if response.status_code != 200:
        raise RuntimeError(f"PATCH asset: {response.status_code} {response.text}")


async def measure(url: str, readings: int, warmup: int) -> list[float]:
    latencies = []
    async with connected_charger(url, "CP-BENCH", KEY) as charger:
        await charger.boot()
        await charger.start_transaction()
        for i in range(warmup + readings):
            count = len(charger.received)
            started = time.perf_counter()
            await charger.meter_values(datetime.now(UTC), soc_percent=20 + (i % 60))
            await charger.wait_received(count + 1, timeout_s=60)
            if i >= warmup:
                latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    ocpp_port = free_port()
    env = {"FLEXLEDGER_OCPP_ENABLED": "true", "FLEXLEDGER_OCPP_PORT": str(ocpp_port)}
    with running_server(temp_home(), env=env) as (base, token), httpx.Client(
        base_url=base, headers={"Authorization": token}, timeout=60
    ) as client:
        now = datetime.now(UTC)
        yesterday = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        site = build_site(client, yesterday, link_soc_sensor=False)
        make_charger(client, site)
        latencies = asyncio.run(measure(f"ws://127.0.0.1:{ocpp_port}/ocpp/", args.readings, args.warmup))
    ms = [x * 1000 for x in latencies]
    print(f"charger SoC reading -> SetChargingProfile at the charger (embedded, 192-step MILP), {len(ms)} readings:")
    print(f"  p50 {median(ms):7.1f} ms   p90 {percentile(ms, 90):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   "
          f"max {max(ms):7.1f} ms")


if __name__ == "__main__":
    main()

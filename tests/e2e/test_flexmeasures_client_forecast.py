"""The official ``flexmeasures-client`` forecasts through a real flexledger server process.

Over HTTP the client switches live forecasting on for a sensor (``update_sensor`` with the
``forecasting`` attribute), posts two weeks of quarter-hour load, then:

* ``trigger_and_get_forecast`` — with the server reporting FlexMeasures 0.33 the client waits on
  ``GET /api/v3_0/jobs/<uuid>`` before fetching ``GET /sensors/<id>/forecasts/<uuid>``;
* ``trigger_forecast`` + ``get_forecast`` — the result endpoint polled directly (202 while the
  job runs: what the client does for servers older than 0.33);
* ``get_sensor_data`` with a positive ``horizon`` — the live forecaster's beliefs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from e2e_server import EMAIL, PASSWORD, ServerProcess, seed
from flexmeasures_client import FlexMeasuresClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_forecasting_support import START, synthetic_load_kw  # noqa: E402

pytestmark = pytest.mark.e2e

DAYS = 14
END = START + timedelta(days=DAYS)


def one_minus_wape(actual: list[float], predicted: list[float]) -> float:
    return 1 - sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)) / sum(abs(a) for a in actual)


async def _post_history(client: FlexMeasuresClient, sensor_id: int) -> None:
    load = synthetic_load_kw(START, DAYS * 96)
    for day in range(DAYS):
        await client.post_sensor_data(
            sensor_id, start=START + timedelta(days=day), duration="P1D", values=load[day * 96 : (day + 1) * 96],
            unit="kW",
        )  # fmt: skip


async def _live_forecast(client: FlexMeasuresClient, sensor_id: int) -> list:
    """The last 6 h of data as forecast at least 1 h ahead; waits (bounded) for the live forecaster to get there."""
    deadline = time.monotonic() + 120
    while True:
        data = await client.get_sensor_data(
            sensor_id, start=END - timedelta(hours=6), duration="PT6H", unit="kW", resolution="PT15M", horizon="PT1H"
        )
        if None not in data["values"] or time.monotonic() > deadline:
            return data["values"]
        await asyncio.sleep(0.2)


async def test_client_triggers_a_forecast_and_gets_it_back(server_factory: ServerProcess) -> None:
    seeded = seed(server_factory.home, sensor_resolution_s=900)
    server = server_factory.start()
    client = FlexMeasuresClient(
        email=EMAIL, password=PASSWORD, host=f"127.0.0.1:{server.port}", request_timeout=60,
        request_retry_interval=0.2, job_polling_interval=0.2, job_polling_max_interval=1.0, job_polling_timeout=120,
    )  # fmt: skip
    try:
        sensor_id = seeded.sensor_id
        await client.update_sensor(sensor_id, {"attributes": {"forecasting": {"horizon": "PT24H"}}},
                                   parse_json_fields=True)  # fmt: skip
        await _post_history(client, sensor_id)
        assert client.server_version == "0.33.0"

        forecast = await client.trigger_and_get_forecast(sensor_id=sensor_id, start=END, duration="PT12H")
        assert (forecast["unit"], forecast["duration"], len(forecast["values"])) == ("kW", "PT12H", 48)
        assert forecast["start"] == END.isoformat()
        assert one_minus_wape(synthetic_load_kw(END, 48), forecast["values"]) > 0.8

        job_id = await client.trigger_forecast(
            sensor_id=sensor_id, start=END - timedelta(days=1), end=END, max_forecast_horizon="PT6H",
            forecast_frequency="PT6H", train_period="P7D",
        )  # fmt: skip
        walked = await client.get_forecast(sensor_id=sensor_id, forecast_id=job_id)  # polls while it is 202
        assert len(walked["values"]) == 96
        assert one_minus_wape(synthetic_load_kw(START, DAYS * 96)[-96:], walked["values"]) > 0.8
        assert (await client.get_job_status(job_id))["status"] == "FINISHED"

        live = await _live_forecast(client, sensor_id)  # the live forecaster's beliefs, made at least an hour ahead
        assert None not in live and live != synthetic_load_kw(START, DAYS * 96)[-24:]
    finally:
        await client.close()

"""The embedded deployment on two processes (``FLEXLEDGER_PROCESSORS_PROCESS=true``, issue #18).

The API serves in the test's process (real HTTP through the app); the processors run in a
child process (:mod:`infra.processes`). Read-your-writes holds across the processes, a killed
processors' process is restarted and catches up, and stopping the API stops it. Data: small
synthetic posts on the seeded world of ``test_api_support``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import test_api_sensor_data as sensor_data
from test_api_support import ApiHarness

DEADLINE_S = 60.0  # generous: the child imports and starts on a loaded machine


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """One two-process platform for the module's tests (starting a child costs seconds); each
    test writes its own sensor's slots or checks only what it wrote."""
    home = tmp_path_factory.mktemp("two-processes")
    with ApiHarness(home, processors_process=True, consistency_timeout_s=DEADLINE_S) as harness:
        yield harness


def test_the_processors_run_in_another_process(api: ApiHarness) -> None:
    child = api.platform.runner.child
    assert child is not None and child.poll() is None and child.pid != os.getpid()
    assert not [t for t in __import__("threading").enumerate() if t.name == "flexledger-projection.readings"]


def test_reads_its_writes_across_processes(api: ApiHarness) -> None:
    sensor = api.sensor("CS 1/power")
    for round_ in range(20):  # each POST returns once the other process projected it
        values = [float(round_ * 10 + i) for i in range(8)]
        sensor_data.post(api, sensor, values)
        assert sensor_data.get(api, sensor, "PT2H")["values"] == values


def test_registry_writes_read_back(api: ApiHarness) -> None:
    headers = api.auth()
    asset = api.client.post("/api/v3_0/assets", headers=headers, json={"name": "two", "generic_asset_type_id": 4})
    assert asset.status_code in (200, 201), asset.text
    body = {"name": "p", "unit": "kW", "event_resolution": "PT15M", "generic_asset_id": asset.json()["id"]}
    sensor = api.client.post("/api/v3_0/sensors", headers=headers, json=body)
    assert sensor.status_code in (200, 201), sensor.text
    sensor_data.post(api, sensor.json()["id"], [1.0, 2.0])
    assert sensor_data.get(api, sensor.json()["id"], "PT30M")["values"] == [1.0, 2.0]


def test_a_killed_processors_process_is_restarted_and_catches_up(api: ApiHarness) -> None:
    runner = api.platform.runner
    sensor = api.sensor("CS 2/power")
    sensor_data.post(api, sensor, [9.0])
    first = runner.child
    os.kill(first.pid, signal.SIGKILL)
    first.wait(DEADLINE_S)
    sensor_data.post(api, sensor, [1.0, 2.0, 3.0])  # acknowledged once the restarted child projected it
    assert runner.child is not first and runner.restarts >= 1
    assert sensor_data.get(api, sensor, "PT45M")["values"] == [1.0, 2.0, 3.0]


def test_stopping_the_api_stops_the_processors_process(tmp_path: Path) -> None:
    harness = ApiHarness(tmp_path, processors_process=True, consistency_timeout_s=DEADLINE_S)
    with harness:
        child = harness.platform.runner.child
    deadline = time.monotonic() + DEADLINE_S
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is not None

"""Read-your-writes in the distributed deployment: the API process runs no processors.

The API (``run_processors=false``) appends to the event store; the relay (a thread here)
publishes to Kafka (librdkafka's mock cluster); a real ``python -m infra.worker`` subprocess
applies the projections to PostgreSQL. A write's response must still show the write: the API
waits on the projection's checkpoint for the log partition of the written stream. Without
that, a created asset is answered with 503 PROJECTION_LAG and a GET right after a POST of
sensor data misses the values.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from kafka_support import KafkaPipeline, wait_until

from api.app import create_app
from commands import registry as cmd
from domain.ports.log import LogRecord
from infra.log.kafka import KafkaLog, partition_for_key
from projections import registry_query as rq

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
PASSWORD = "correct horse battery"
START = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def api(tmp_path, kafka_mock_cluster, kafka_postgres_url):
    pipeline = KafkaPipeline(tmp_path, kafka_mock_cluster.bootstrap_servers, kafka_postgres_url)
    try:
        ctx = pipeline.ctx
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="Distributed", roles=["Prosumer"]))
        cmd.register_user(ctx, cmd.RegisterUser(email="ops@dist.test", password=PASSWORD, account_id=account))
        pipeline.start_relay()
        pipeline.spawn_worker(max_records=200)
        engine = pipeline.platform.read_models.read_engine

        def user_projected() -> bool:
            with engine.connect() as conn:
                return rq.user_by_email(conn, "ops@dist.test") is not None

        wait_until(user_projected, "the worker to project the user")
        with TestClient(create_app(pipeline.platform)) as client:
            token = client.post("/api/requestAuthToken", json={"email": "ops@dist.test", "password": PASSWORD})
            client.headers["Authorization"] = token.json()["auth_token"]
            yield client
    finally:
        pipeline.close()


def test_writes_are_answered_from_the_read_model_the_worker_wrote(api: TestClient) -> None:
    types = {t["name"]: t["id"] for t in api.get("/api/v3_0/assets/types").json()}
    for i in range(3):  # several streams: they land on different partitions
        asset = api.post("/api/v3_0/assets", json={"name": f"site {i}", "generic_asset_type_id": types["building"]})
        assert asset.status_code == 201, asset.text
        assert asset.json()["name"] == f"site {i}"
        sensor = api.post(
            "/api/v3_0/sensors",
            json={"name": "power", "unit": "kW", "event_resolution": "PT15M", "generic_asset_id": asset.json()["id"]},
        )
        assert sensor.status_code == 201, sensor.text
        renamed = api.patch(f"/api/v3_0/assets/{asset.json()['id']}", json={"name": f"renamed {i}"})
        assert renamed.status_code == 200 and renamed.json()["name"] == f"renamed {i}"

        values = [float(i), 2.5, -1.0, 4.0]
        series = {"start": START.isoformat(), "duration": "PT1H", "unit": "kW"}
        posted = api.post(f"/api/v3_0/sensors/{sensor.json()['id']}/data", json={**series, "values": values})
        assert posted.status_code == 200, posted.text
        read = api.get(f"/api/v3_0/sensors/{sensor.json()['id']}/data", params=series)
        assert read.status_code == 200 and read.json()["values"] == values


def test_the_partition_of_a_key_is_the_one_the_producer_chose(kafka_mock_cluster) -> None:
    log = KafkaLog(kafka_mock_cluster.bootstrap_servers, partitions=4)
    try:
        keys = [f"sensordata-{i}" for i in range(40)] + [f"asset-{i}" for i in range(40)]
        log.publish([LogRecord(topic="partition-check", key=key, value={"key": key}) for key in keys])
        consumer = log.consumer("partition-check-group", ["partition-check"])
        seen: dict[str, int] = {}
        wait_until(lambda: seen.update({r.key: r.partition for r in consumer.poll(100, 0.5)}) or len(seen) == 80,
                   "all records back from the mock cluster", timeout_s=60)  # fmt: skip
        consumer.close()
        assert {key: partition_for_key(key, 4) for key in keys} == seen
        assert len(set(seen.values())) == 4  # the keys spread over every partition
        assert log.partition_key("partition-check", "asset-1") == f"partition-check:{partition_for_key('asset-1', 4)}"
    finally:
        log.close()

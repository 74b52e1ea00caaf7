"""The official ``flexmeasures-client`` against a real flexledger server process."""

from __future__ import annotations

import pytest
from e2e_server import EMAIL, PASSWORD, ServerProcess, seed
from flexmeasures_client import FlexMeasuresClient

pytestmark = pytest.mark.e2e

VALUES_KW = [3.3, 6.6, 0.0, -1.25, 11.0, 7.5, 7.5, 0.125]


async def test_client_creates_an_asset_and_sensor_and_round_trips_data(server_factory: ServerProcess) -> None:
    seeded = seed(server_factory.home)
    server = server_factory.start()
    client = FlexMeasuresClient(email=EMAIL, password=PASSWORD, host=f"127.0.0.1:{server.port}", request_timeout=30)
    try:
        account = await client.get_account()
        assert (account["id"], account["name"]) == (seeded.account_id, "E2E Charging")
        assert (await client.get_user())["id"] == seeded.user_id

        asset_types = {t["name"]: t["id"] for t in await client.get_asset_types()}
        assert {"battery", "charge_site", "one-way_evse", "solar"} <= set(asset_types)
        asset = await client.add_asset(
            name="Client site",
            account_id=account["id"],
            latitude=52.37,
            longitude=4.89,
            generic_asset_type_id=asset_types["charge_site"],
            attributes={"capacity_kw": 50},
        )
        assert (asset["name"], asset["account_id"]) == ("Client site", account["id"])
        sensor = await client.add_sensor(
            name="power", event_resolution="PT15M", unit="kW", generic_asset_id=asset["id"], timezone="Europe/Amsterdam"
        )
        assert (sensor["unit"], sensor["event_resolution"], sensor["generic_asset_id"]) == ("kW", "PT15M", asset["id"])
        assert [s["id"] for s in await client.get_sensors(asset_id=asset["id"], parse_json_fields=True)] == [
            sensor["id"]
        ]

        start = "2021-06-01T00:00:00+02:00"
        await client.post_sensor_data(sensor["id"], start=start, duration="PT2H", values=VALUES_KW, unit="kW")
        data = await client.get_sensor_data(sensor["id"], start=start, duration="PT2H", unit="kW", resolution="PT15M")
        assert data["values"] == VALUES_KW
        assert data["unit"] == "kW"

        in_watts = await client.get_sensor_data(
            sensor["id"], start=start, duration="PT2H", unit="W", resolution="PT15M"
        )
        assert in_watts["values"] == pytest.approx([v * 1000 for v in VALUES_KW])
        hourly = await client.get_sensor_data(sensor["id"], start=start, duration="PT2H", unit="kW", resolution="PT1H")
        assert hourly["values"] == pytest.approx([sum(VALUES_KW[:4]) / 4, sum(VALUES_KW[4:]) / 4])
        assert client.server_version is not None  # from the FlexMeasures-Version header
    finally:
        await client.close()


async def test_client_uploads_a_csv_file_once(server_factory: ServerProcess, tmp_path) -> None:
    """``post_sensor_data(file_path=...)`` (multipart ``uploaded-files``); a re-upload stores nothing new."""
    seeded = seed(server_factory.home, sensor_resolution_s=900)
    server = server_factory.start()
    client = FlexMeasuresClient(email=EMAIL, password=PASSWORD, host=f"127.0.0.1:{server.port}", request_timeout=30)
    csv = tmp_path / "readings.csv"
    csv.write_text("event_start,event_value\n" + "".join(
        f"2021-06-01T00:{15 * i:02d}:00+00:00,{v}\n" for i, v in enumerate(VALUES_KW[:4])
    ))  # fmt: skip
    try:
        first = await client.post_sensor_data(seeded.sensor_id, file_path=str(csv), unit="kW")
        again = await client.post_sensor_data(seeded.sensor_id, file_path=str(csv))
        data = await client.get_sensor_data(
            seeded.sensor_id, start="2021-06-01T00:00:00+00:00", duration="PT1H", unit="kW", resolution="PT15M"
        )
        assert data["values"] == VALUES_KW[:4]
        assert first == ({"message": "Request has been processed.", "status": "PROCESSED", "new": 4,
                          "already_stored": 0}, 200)  # fmt: skip
        assert again[0]["new"] == 0 and again[0]["already_stored"] == 4
    finally:
        await client.close()

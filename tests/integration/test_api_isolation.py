"""Tenant isolation: a user of account Alpha reaches nothing of account Beta, by any id, anywhere.

Two parts, both over real HTTP through the app (world of ``scheduling_support``, plus a Beta
schedule, a Beta forecast job and Beta prices):

* **Path matrix** — every operation of the OpenAPI spec whose path takes an id (walked from
  ``app.openapi()``, so a new route is covered automatically) is called by alice with Beta's
  ids (and, for schedule/forecast uuids, with alice's own sensor and Beta's uuid): each answers
  403 or 404, appends nothing, and leaks no Beta name.
* **Reference cases** — ids in queries, bodies and stored flex-models/flex-contexts, on both API
  versions (``REFERENCE_CASES``): each is refused and appends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from scheduling_support import ALICE, BOB, DAY, SchedulingHarness

from commands import registry as cmd

ID_PARAMS = {"sensor_id", "asset_id", "account_id", "job_id", "schedule_id", "forecast_id"}
WRITE_BODIES = {  # a body alice could send for her own objects: a refusal is then about the ids only
    ("patch", "/api/v3_0/assets/{asset_id}"): {"name": "renamed"},
    ("patch", "/api/v3_0/sensors/{sensor_id}"): {"name": "renamed"},
    ("post", "/api/v3_0/sensors/{sensor_id}/data"): {
        "values": [1.0], "start": DAY.isoformat(), "duration": "PT15M", "unit": "kW",
    },
    ("post", "/api/v3_0/assets/{asset_id}/schedules/trigger"): {"start": DAY.isoformat(), "duration": "PT1H"},
    ("post", "/api/v3_0/sensors/{sensor_id}/schedules/trigger"): {
        "start": DAY.isoformat(), "duration": "PT1H", "flex-model": {"soc-at-start": "10 kWh"},
        "flex-context": {"consumption-price": "50 EUR/MWh"},
    },
    ("post", "/api/v3_0/sensors/{sensor_id}/forecasts/trigger"): {"start": DAY.isoformat(), "duration": "PT6H"},
    ("delete", "/api/v3_0/assets/{asset_id}"): None,
    ("delete", "/api/v3_0/sensors/{sensor_id}"): None,
    ("post", "/api/v3_0/accounts/{account_id}/forget"): None,
}  # fmt: skip
QUERIES = {("get", "/api/v3_0/sensors/{sensor_id}/data"): {"start": DAY.isoformat(), "duration": "PT1H"}}
WRITE_FILES = {  # multipart writes: a file alice could upload to her own sensor
    ("post", "/api/v3_0/sensors/{sensor_id}/data/upload"): {
        "uploaded-files": ("readings.csv", f"{DAY.isoformat()},1.0\n".encode(), "text/csv"),
    },
}
BETA_NAMES = ("beta-battery", "Beta", BOB)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict]:
    """The seeded harness plus Beta's schedule, forecast job and price sensor."""
    harness = SchedulingHarness(Path(tmp_path_factory.mktemp("isolation")))
    beta_sensor = harness.world.sensors["beta-battery/power"]
    body = WRITE_BODIES[("post", "/api/v3_0/sensors/{sensor_id}/schedules/trigger")]
    schedule = harness.client.post(
        f"/api/v3_0/sensors/{beta_sensor}/schedules/trigger", json=body, headers=harness.headers(BOB)
    )
    assert schedule.status_code == 200, schedule.text
    forecast = harness.client.post(
        f"/api/v3_0/sensors/{beta_sensor}/forecasts/trigger",
        json={"start": DAY.isoformat(), "duration": "PT6H"},
        headers=harness.headers(BOB),
    )
    assert forecast.status_code == 200, forecast.text
    ctx = harness.platform.commands
    beta_prices = cmd.register_sensor(
        ctx, cmd.RegisterSensor(asset_id=harness.world.assets["beta-battery"], name="prices", unit="EUR/MWh",
                                event_resolution_s=3600)
    )  # fmt: skip
    harness.settle()
    harness.wait_projected()
    yield {
        "harness": harness,
        "beta_sensor": beta_sensor,
        "beta_prices": beta_prices,
        "beta_asset": harness.world.assets["beta-battery"],
        "beta_account": harness.world.accounts["Beta"],
        "beta_schedule": schedule.json()["schedule"],
        "beta_forecast": forecast.json()["forecast"],
        "alpha_sensor": harness.world.sensors["battery/power"],
    }
    harness.close()


def _operations(harness: SchedulingHarness) -> list[tuple[str, str]]:
    spec = harness.client.app.openapi()
    return [
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if set(re.findall(r"{(\w+)}", path)) & ID_PARAMS
    ]


def _fill(path: str, ids: dict[str, object]) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)


def _path_cases(world: dict) -> list[tuple[str, str, str]]:
    """(method, template, url): Beta's ids everywhere; and alice's sensor with Beta's uuids."""
    beta = {
        "sensor_id": world["beta_sensor"], "asset_id": world["beta_asset"], "account_id": world["beta_account"],
        "job_id": world["beta_schedule"], "schedule_id": world["beta_schedule"], "forecast_id": world["beta_forecast"],
    }  # fmt: skip
    cases = []
    for method, path in _operations(world["harness"]):
        cases.append((method, path, _fill(path, beta)))
        if "{schedule_id}" in path or "{forecast_id}" in path:
            cases.append((method, path, _fill(path, {**beta, "sensor_id": world["alpha_sensor"]})))
    jobs = "/api/v3_0/jobs/{job_id}"
    cases.append(("get", jobs, _fill(jobs, {"job_id": beta["forecast_id"]})))
    return cases


def test_every_id_in_a_path_is_isolated(world: dict) -> None:
    harness = world["harness"]
    cases = _path_cases(world)
    refused = []
    for method, template, url in cases:
        head = harness.head
        files = WRITE_FILES.get((method, template))
        body = WRITE_BODIES[(method, template)] if method != "get" and not files else None  # a new write needs one
        query = QUERIES.get((method, template))
        response = harness.client.request(
            method.upper(), url, json=body, files=files, params=query, headers=harness.headers(ALICE)
        )
        assert response.status_code in (403, 404), (method, url, response.status_code, response.text)
        assert harness.head == head, (method, url)
        assert not any(name in response.text for name in BETA_NAMES), (method, url, response.text)
        refused.append((method, url))
    assert len(refused) == len(cases) >= 16
    print(f"isolation path matrix: {len(_operations(harness))} operations, {len(cases)} cross-account calls refused")


def test_foreign_schedule_and_forecast_uuids_are_404_on_own_sensor(world: dict) -> None:
    harness, own = world["harness"], world["alpha_sensor"]
    for url in (
        f"/api/v3_0/sensors/{own}/schedules/{world['beta_schedule']}",
        f"/api/v3_0/sensors/{own}/forecasts/{world['beta_forecast']}",
        f"/api/v3_0/jobs/{world['beta_schedule']}",
        f"/api/v3_0/jobs/{world['beta_forecast']}",
    ):
        response = harness.client.get(url, headers=harness.headers(ALICE))
        assert response.status_code == 404, (url, response.text)
    # Bob still reads his own
    mine = harness.client.get(f"/api/v3_0/jobs/{world['beta_schedule']}", headers=harness.headers(BOB))
    assert mine.status_code == 200, mine.text


def _reference_cases(world: dict) -> dict[str, tuple[str, str, dict | None, dict | None]]:
    """name -> (method, url, json body, query) naming one of Beta's objects outside the path."""
    h, b_sensor, b_prices = world["harness"], world["beta_sensor"], world["beta_prices"]
    b_asset, b_account = world["beta_asset"], world["beta_account"]
    site, battery = h.world.assets["site"], h.world.assets["battery"]
    own_sensor = world["alpha_sensor"]
    ea = f"ea1.2018-06.io.flexmeasures.company:{b_account}:{b_asset}"
    udi_beta = f"ea1.2018-06.io.flexmeasures.company:{b_account}:{b_asset}:5:soc"
    window = {"start": DAY.isoformat(), "duration": "PT1H", "unit": "kW"}
    patch = f"/api/v3_0/assets/{site}"
    return {
        "sensors?account_id": ("GET", "/api/v3_0/sensors", None, {"account_id": b_account}),
        "sensors?asset_id": ("GET", "/api/v3_0/sensors", None, {"asset_id": b_asset}),
        "assets?account_id": ("GET", "/api/v3_0/assets", None, {"account_id": b_account}),
        "users?account_id": ("GET", "/api/v3_0/users", None, {"account_id": b_account}),
        "POST asset parent": ("POST", "/api/v3_0/assets", {"name": "x", "generic_asset_type_id": 1,
                                                           "parent_asset_id": b_asset}, None),
        "POST asset in account": ("POST", "/api/v3_0/assets", {"name": "x", "generic_asset_type_id": 1,
                                                               "account_id": b_account}, None),
        "POST asset flex-context": ("POST", "/api/v3_0/assets", {"name": "x", "generic_asset_type_id": 1,
                                    "flex_context": {"consumption-price": {"sensor": b_prices}}}, None),
        "POST sensor on asset": ("POST", "/api/v3_0/sensors", {"name": "x", "unit": "kW", "event_resolution": "PT15M",
                                                               "generic_asset_id": b_asset}, None),
        "PATCH parent": ("PATCH", patch, {"parent_asset_id": b_asset}, None),
        "PATCH consumption-price": ("PATCH", patch, {"flex_context": {"consumption-price": {"sensor": b_prices}}},
                                    None),
        "PATCH production-price": ("PATCH", patch, {"flex_context": {"production-price": {"sensor": b_prices}}}, None),
        "PATCH legacy price sensor": ("PATCH", patch, {"flex_context": {"consumption-price-sensor": b_prices}}, None),
        "PATCH inflexible devices": ("PATCH", patch, {"flex_context": {"inflexible-device-sensors": [b_sensor]}}, None),
        "PATCH site capacity sensor": ("PATCH", patch, {"flex_context": {"site-power-capacity": {"sensor": b_sensor}}},
                                       None),
        "PATCH flex-model sensor": ("PATCH", f"/api/v3_0/assets/{battery}", {"flex_model": {"sensor": b_sensor}}, None),
        "PATCH state-of-charge": ("PATCH", f"/api/v3_0/assets/{battery}",
                                  {"flex_model": {"state-of-charge": {"sensor": b_sensor}}}, None),
        "PATCH soc-minima sensor": ("PATCH", f"/api/v3_0/assets/{battery}",
                                    {"flex_model": {"soc-minima": {"sensor": b_sensor}}}, None),
        "trigger flex-context price": ("POST", f"/api/v3_0/assets/{site}/schedules/trigger",
                                       {"start": DAY.isoformat(), "duration": "PT1H",
                                        "flex-context": {"consumption-price": {"sensor": b_prices}}}, None),
        "trigger flex-model device": ("POST", f"/api/v3_0/assets/{site}/schedules/trigger",
                                      {"start": DAY.isoformat(), "duration": "PT1H",
                                       "flex-model": [{"sensor": b_sensor}]}, None),
        "trigger sensor soc-maxima": ("POST", f"/api/v3_0/sensors/{own_sensor}/schedules/trigger",
                                      {"start": DAY.isoformat(), "duration": "PT1H",
                                       "flex-model": {"soc-maxima": {"sensor": b_sensor}}}, None),
        "forecast regressors": ("POST", f"/api/v3_0/sensors/{own_sensor}/forecasts/trigger",
                                {"start": DAY.isoformat(), "duration": "PT6H", "config": {"regressors": [b_sensor]}},
                                None),
        "v2 postMeterData": ("POST", "/api/v2_0/postMeterData", {"type": "PostMeterDataRequest", "connection": ea,
                                                                 "values": [1.0, 2.0, 3.0, 4.0], **window}, None),
        "v2 postPrognosis": ("POST", "/api/v2_0/postPrognosis", {"type": "PostPrognosisRequest", "connection": ea,
                                                                 "values": [1.0, 2.0, 3.0, 4.0], **window}, None),
        "v2 getMeterData": ("GET", "/api/v2_0/getMeterData", None, {"type": "GetMeterDataRequest", "connection": ea,
                                                                   **window}),
        "v2 getPrognosis": ("GET", "/api/v2_0/getPrognosis", None, {"type": "GetPrognosisRequest", "connection": ea,
                                                                   **window}),
        "v2 postUdiEvent": ("POST", "/api/v2_0/postUdiEvent", {"type": "PostUdiEventRequest", "event": udi_beta,
                                                               "value": 10, "unit": "kWh",
                                                               "datetime": DAY.isoformat()}, None),
        "v2 getDeviceMessage": ("GET", "/api/v2_0/getDeviceMessage", None,
                                {"type": "GetDeviceMessageRequest", "event": udi_beta}),
    }  # fmt: skip


def test_every_reference_outside_the_path_is_isolated(world: dict) -> None:
    harness = world["harness"]
    cases = _reference_cases(world)
    for name, (method, url, body, query) in cases.items():
        head = harness.head
        response = harness.client.request(method, url, json=body, params=query, headers=harness.headers(ALICE))
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert response.status_code != 422 or "another account" in response.text, (name, response.text)
        assert harness.head == head, name
        assert not any(n in response.text for n in ("beta-battery", BOB)), (name, response.text)
    print(f"isolation reference cases: {len(cases)} refused")


def test_stored_foreign_references_are_refused_on_use(world: dict) -> None:
    """A flex-context naming Beta's prices that got stored anyhow (written before the checks
    existed) is refused when alice's v2.0 UDI event or v3 trigger would use it."""
    harness = world["harness"]
    ctx = harness.platform.commands
    site = harness.world.assets["site"]
    stored = {"consumption-price": {"sensor": world["beta_prices"]}, "site-power-capacity": "25 kW"}
    cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=site, changes={"flex_context": stored}))
    harness.wait_projected()
    device = {"sensor": harness.world.sensors["battery/power"], "soc-at-start": "10 kWh"}
    try:
        head = harness.head
        message = harness.udi_message(event_id=77, targets=None, event=harness.address("battery", 77, "soc"))
        udi = harness.post_udi(message)
        assert (udi.status_code, udi.json()["status"]) == (403, "INVALID_SENDER"), udi.text
        trigger = harness.client.post(
            f"/api/v3_0/assets/{site}/schedules/trigger",
            json={"start": DAY.isoformat(), "duration": "PT1H", "flex-model": [device]},
            headers=harness.headers(ALICE),
        )
        assert (trigger.status_code, trigger.json()["status"]) == (403, "INVALID_SENDER"), trigger.text
        assert harness.head == head
    finally:
        own = {"consumption-price": {"sensor": harness.world.sensors["market/prices"]}, "site-power-capacity": "25 kW"}
        cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=site, changes={"flex_context": own}))
        harness.wait_projected()


def test_own_references_still_work(world: dict) -> None:
    """The checks refuse only foreign ids: alice's own price sensor is accepted."""
    harness = world["harness"]
    site, prices = harness.world.assets["site"], harness.world.sensors["market/prices"]
    body = {"flex_context": {"consumption-price": {"sensor": prices}, "site-power-capacity": "25 kW"}}
    response = harness.client.patch(f"/api/v3_0/assets/{site}", json=body, headers=harness.headers(ALICE))
    assert response.status_code == 200, response.text
    udi = harness.post_udi(harness.udi_message(event_id=78, targets=None, event=harness.address("battery", 78, "soc")))
    assert udi.status_code == 200, udi.text

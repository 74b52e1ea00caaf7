"""Forecasts through the API: live forecasts as beliefs, v3 data, v2.0 prognoses, forecast jobs.

Two weeks of synthetic quarter-hour load (kW) are posted through ``POST /sensors/1/data`` to a
sensor with the ``forecasting`` attribute; the live forecaster (in the embedded runner) makes
a 48 h forecast every hour of data. Most tests read that one platform (module fixture); the
tests that write use windows nobody else reads.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from test_forecasting_support import START, ForecastHarness, synthetic_load_kw

from api.timefmt import parse_duration
from domain.beliefs import to_epoch_s, to_epoch_us
from projections.forecasts_query import known_or_forecast, latest_forecast
from projections.readings_query import BeliefFilter, beliefs_with_sources

DAYS = 14
END = START + timedelta(days=DAYS)  # the end of the posted data (a Monday)
SENSOR = "/api/v3_0/sensors/1"


@pytest.fixture(scope="module")
def fed(tmp_path_factory) -> ForecastHarness:
    with ForecastHarness(tmp_path_factory.mktemp("fed")) as harness:
        harness.post_days(START, DAYS)
        harness.settle()
        yield harness


def one_minus_wape(actual: list[float], predicted: list[float]) -> float:
    return 1 - sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)) / sum(abs(a) for a in actual)


def forecast_rows(fed: ForecastHarness, start, end) -> list[tuple[int, int, str, float]]:
    """Every forecaster belief about events in [start, end): (event start s, belief time us, source, value)."""
    with fed.platform.read_models.read_engine.connect() as conn:
        forecasts = BeliefFilter(source_types=["forecaster"])
        return beliefs_with_sources(conn, 1, to_epoch_s(start), to_epoch_s(end), forecasts)


def expected(rows, start, n: int, keep) -> list[float | None]:
    """Per quarter-hour from ``start``: the value of the latest row that ``keep(event_s, belief_us)`` admits."""
    latest: dict[int, tuple[int, float]] = {}
    for event_s, belief_us, _source, value in rows:
        if keep(event_s, belief_us) and (event_s not in latest or belief_us >= latest[event_s][0]):
            latest[event_s] = (belief_us, value)
    first = to_epoch_s(start)
    return [latest.get(first + 900 * i, (0, None))[1] for i in range(n)]


def test_live_forecasts_are_beliefs_made_every_hour_of_data(fed: ForecastHarness) -> None:
    stats = fed.forecaster.stats
    assert stats.learned == DAYS * 96 and stats.forecasts == DAYS * 24 and stats.appended == 2 * DAYS * 24
    day = END - timedelta(days=1)
    rows = forecast_rows(fed, day, END)
    assert {source for *_, source, _ in rows} == {"forecaster:auto"}
    for event_s, belief_us, _, _ in rows:
        assert belief_us % 3_600_000_000 == 0  # made on the hour of data
        assert belief_us <= event_s * 1_000_000  # before the event: a forecast (48 h ahead at most)
        assert event_s * 1_000_000 - belief_us < 48 * 3_600_000_000
    noon = to_epoch_s(day + timedelta(hours=12))
    beliefs = sorted(b for e, b, *_ in rows if e == noon)  # only changed beliefs are stored (as FlexMeasures)
    assert beliefs[0] == (noon - 47 * 3600) * 1_000_000 and len(beliefs) >= 2  # first forecast 47 h ahead


def test_v3_data_returns_forecasts_for_a_positive_horizon(fed: ForecastHarness) -> None:
    day = END - timedelta(days=1)
    got = fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="P1D", horizon="PT6H")["values"]
    want = expected(forecast_rows(fed, day, END), day, 96, lambda e, b: (e + 900) * 1_000_000 - b >= 6 * 3_600_000_000)
    assert None not in got and got == pytest.approx(want)
    measured = fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="P1D")["values"]
    assert measured == pytest.approx(synthetic_load_kw(START, DAYS * 96)[-96:])  # without filters: the measurements
    assert one_minus_wape(measured, got) > 0.8


def test_a_horizon_query_says_which_horizon_it_served(fed: ForecastHarness) -> None:
    day = END - timedelta(days=1)
    body = fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="PT12H", horizon="PT6H")
    rows = forecast_rows(fed, day, day + timedelta(hours=12))
    served = {}
    for event_s, belief_us, _, _ in rows:  # the latest forecast made at least 6 h before each slot's end
        horizon_s = event_s + 900 - belief_us // 1_000_000
        if horizon_s >= 6 * 3600 and (event_s not in served or belief_us >= served[event_s][0]):
            served[event_s] = (belief_us, horizon_s)
    want = [served[to_epoch_s(day) + 900 * i][1] for i in range(48)]
    assert [parse_duration(h).total_seconds() for h in body["horizons"]] == want
    assert body["horizons"][3] == "PT6H" and body["horizons"][0] == "PT6H15M"  # forecasts are made hourly
    assert "horizons" not in fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="PT1H")


def test_v3_data_returns_the_forecast_as_of_a_prior(fed: ForecastHarness) -> None:
    start = END - timedelta(hours=12)
    rows = forecast_rows(fed, start, END)
    views = []
    for prior in (start, start - timedelta(hours=3)):
        got = fed.get(f"{SENSOR}/data", start=start.isoformat(), duration="PT12H", prior=prior.isoformat())["values"]
        assert got == pytest.approx(expected(rows, start, 48, lambda e, b, p=prior: b < to_epoch_us(p)))
        views.append(got)
    assert views[0] != views[1]  # what was believed depends on when: the belief times are kept


def test_the_future_holds_the_latest_forecast(fed: ForecastHarness) -> None:
    got = fed.get(f"{SENSOR}/data", start=END.isoformat(), duration="PT49H", source="forecaster:auto")["values"]
    assert None not in got[:192] and got[192:] == [None] * 4  # 48 h ahead of the data end, no further
    truth = synthetic_load_kw(END, 192)
    assert one_minus_wape(truth, got[:192]) > 0.8


def test_get_prognosis_matches_the_v3_data(fed: ForecastHarness) -> None:
    day = END - timedelta(days=1)
    query = dict(type="GetPrognosisRequest", connection=fed.connection, start="2024-01-14T00:00:00Z",
                 duration="P1D", horizon="PT6H", unit="MW")  # fmt: skip
    assert day.isoformat() == "2024-01-14T00:00:00+00:00"
    body = fed.get("/api/v2_0/getPrognosis", **query)
    assert {k: body[k] for k in ("type", "connection", "start", "duration", "unit", "status")} == {
        "type": "GetPrognosisResponse", "connection": fed.connection, "start": "2024-01-14T00:00:00Z",
        "duration": "P1D", "unit": "MW", "status": "PROCESSED",
    }  # fmt: skip
    v3 = fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="P1D", horizon="PT6H")["values"]
    assert body["values"] == pytest.approx([v / 1000 for v in v3])
    hourly = fed.get("/api/v2_0/getPrognosis", **{**query, "resolution": "PT1H", "unit": "kW"})["values"]
    assert hourly == pytest.approx([sum(v3[4 * h : 4 * h + 4]) / 4 for h in range(24)])
    # without a horizon: anything formed before the fact, never the measurements
    latest = fed.get("/api/v2_0/getPrognosis", **{**query, "horizon": None, "unit": "kW"})
    assert latest["values"] == pytest.approx(fed.get(f"{SENSOR}/data", start=day.isoformat(), duration="P1D",
                                                      horizon="PT0H")["values"])  # fmt: skip
    by_source = fed.get("/api/v2_0/getPrognosis", **{**query, "source": "forecaster:auto"})
    assert by_source["values"] == body["values"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"unit": None}, 400, "INVALID_UNIT"),
        ({"unit": "kWh"}, 400, "INVALID_UNIT"),
        ({"connection": "CS 1"}, 400, "INVALID_DOMAIN"),
        ({"connection": "ea1.2026-11.io.flexledger:1:99"}, 400, "UNRECOGNIZED_CONNECTION_GROUP"),
        ({"type": "GetMeterDataRequest"}, 400, "INVALID_MESSAGE_TYPE"),
        ({"start": "2024-01-14T00:00:00"}, 400, "INVALID_TIMEZONE"),
        ({"horizon": "R/PT6H"}, 400, "INVALID_HORIZON"),
        ({"source": "nobody"}, 400, "INVALID_SOURCE"),
    ],
)
def test_get_prognosis_rejects_bad_requests(fed: ForecastHarness, change: dict, status: int, code: str) -> None:
    query = dict(type="GetPrognosisRequest", connection=fed.connection, start="2024-01-14T00:00:00Z",
                 duration="PT1H", unit="kW")  # fmt: skip
    body = fed.get("/api/v2_0/getPrognosis", expected=status, **{**query, **change})
    assert (body["type"], body["result"], body["status"]) == ("GetPrognosisResponse", "Rejected", code)


def test_prognosis_endpoints_refuse_other_methods_and_users_without_a_token(fed: ForecastHarness) -> None:
    response = fed.client.post("/api/v2_0/getPrognosis", json={}, headers=fed.auth())
    assert response.status_code == 405 and response.json()["status"] == "INVALID_METHOD"
    response = fed.client.get("/api/v2_0/postPrognosis", headers=fed.auth())
    assert response.status_code == 405 and response.json()["type"] == "PostPrognosisResponse"
    response = fed.client.get("/api/v2_0/getPrognosis", params={"type": "GetPrognosisRequest"})
    assert response.status_code == 401


def test_post_prognosis_stores_external_forecasts_beside_ours(fed: ForecastHarness) -> None:
    start = END + timedelta(days=1)  # a window of the future nobody else reads
    message = {"type": "PostPrognosisRequest", "connection": fed.connection, "values": [0.05, 0.06],
               "start": start.isoformat(), "duration": "PT30M", "prior": (start - timedelta(hours=3)).isoformat(),
               "unit": "MW"}  # fmt: skip
    assert fed.post("/api/v2_0/postPrognosis", message) == {
        "type": "PostPrognosisResponse", "status": "PROCESSED", "message": "Request has been processed."
    }
    fed.settle()
    query = dict(type="GetPrognosisRequest", connection=fed.connection, start=start.isoformat(), duration="PT30M",
                 unit="kW")  # fmt: skip
    assert fed.get("/api/v2_0/getPrognosis", **query)["values"] == pytest.approx([50.0, 60.0])
    ours = fed.get(f"{SENSOR}/data", start=start.isoformat(), duration="PT30M", source="forecaster:auto")["values"]
    assert None not in ours and ours != pytest.approx([50.0, 60.0])  # both kept, side by side
    assert fed.get("/api/v2_0/getPrognosis", **query, source="1")["values"] == pytest.approx([50.0, 60.0])
    assert fed.forecaster.model_state(1).learned == DAYS * 96  # a prognosis is not learned as a measurement
    for change, code in (({"horizon": "-PT1H", "prior": None}, "INVALID_HORIZON"),
                         ({"prior": (start + timedelta(hours=1)).isoformat()}, "INVALID_HORIZON"),
                         ({"type": "PostMeterDataRequest"}, "INVALID_MESSAGE_TYPE"),
                         ({"unit": "MWh"}, "INVALID_UNIT")):  # fmt: skip
        body = fed.post("/api/v2_0/postPrognosis", {k: v for k, v in {**message, **change}.items() if v is not None},
                        expected=400)  # fmt: skip
        assert body["status"] == code


def test_trigger_and_get_a_forecast(fed: ForecastHarness) -> None:
    answer = fed.post(f"{SENSOR}/forecasts/trigger", {"start": END.isoformat(), "duration": "PT24H"})
    assert answer["status"] == "PROCESSED"
    job_id = answer["forecast"]
    uuid.UUID(job_id)
    fed.settle()
    forecast = fed.get(f"{SENSOR}/forecasts/{job_id}")
    assert (forecast["start"], forecast["duration"], forecast["unit"], len(forecast["values"])) == (
        END.isoformat(), "P1D", "kW", 96
    )
    assert forecast["belief_time"] == END.isoformat() and forecast["source"] == "forecaster:trigger"
    assert one_minus_wape(synthetic_load_kw(END, 96), forecast["values"]) > 0.8
    job = fed.get(f"/api/v3_0/jobs/{job_id}")
    assert job["status"] == "FINISHED" and job["result"]["values"] == forecast["values"]
    in_mw = fed.get(f"{SENSOR}/forecasts/{job_id}", unit="MW")
    assert in_mw["values"] == pytest.approx([v / 1000 for v in forecast["values"]]) and in_mw["unit"] == "MW"
    stored = fed.get(f"{SENSOR}/data", start=END.isoformat(), duration="P1D", source="forecaster:trigger")
    assert stored["values"] == pytest.approx(forecast["values"])


def test_trigger_walks_forward_through_a_past_window(fed: ForecastHarness) -> None:
    start = END - timedelta(days=2)
    body = {"start": start.isoformat(), "end": END.isoformat(), "max-forecast-horizon": "PT24H",
            "forecast-frequency": "PT6H", "config": {"train-period": "P7D", "retrain-frequency": "PT6H"}}  # fmt: skip
    job_id = fed.post(f"{SENSOR}/forecasts/trigger", body)["forecast"]
    fed.settle()
    forecast = fed.get(f"{SENSOR}/forecasts/{job_id}")
    assert len(forecast["values"]) == 192 and None not in forecast["values"]
    assert forecast["belief_time"] == (END - timedelta(hours=6)).isoformat()  # the last of the forecasts, 6 h apart
    assert one_minus_wape(synthetic_load_kw(START, DAYS * 96)[-192:], forecast["values"]) > 0.8


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"start": "2024-01-15T00:00:00"}, "UNPROCESSABLE_ENTITY", "start"),
        ({"start": "2024-01-15T00:00:00Z", "end": "2024-01-16T00:00:00Z", "duration": "P1D"}, "INVALID_PERIOD",
         "duration"),
        ({"start": "2024-01-15T00:00:00Z", "end": "2024-01-14T00:00:00Z"}, "INVALID_PERIOD", "end"),
        ({"start": "2024-01-15T00:05:00Z", "duration": "PT1H"}, "INVALID_START", "start"),
        ({"start": "2024-01-15T00:00:00Z", "duration": "PT1H", "max-forecast-horizon": "PT10M"}, "INVALID_DURATION",
         "max-forecast-horizon"),
        ({"start": "2024-01-15T00:00:00Z", "config": {"train-period": "P1D"}}, "INVALID_PERIOD", "config.train-period"),
        ({"start": "2024-01-15T00:00:00Z", "probabilistic": True}, "UNSUPPORTED", "probabilistic"),
        ({"start": "2024-01-15T00:00:00Z", "duration": "P200D"}, "INVALID_PERIOD", "end"),
        ({"start": "2024-01-15T00:00:00Z", "flavour": "vanilla"}, "UNPROCESSABLE_ENTITY", "flavour"),
    ],
)
def test_trigger_rejects_bad_requests(fed: ForecastHarness, body: dict, code: str, field: str) -> None:
    head = fed.head()
    answer = fed.post(f"{SENSOR}/forecasts/trigger", body, expected=422)
    assert (answer["status"], answer["field"]) == (code, field)
    assert fed.head() == head


def test_unknown_sensors_and_forecasts(fed: ForecastHarness) -> None:
    assert fed.post("/api/v3_0/sensors/99/forecasts/trigger", {}, expected=404)["status"] == "UNRECOGNIZED_SENSOR"
    regressor = {"start": END.isoformat(), "config": {"regressors": [99]}}
    assert fed.post(f"{SENSOR}/forecasts/trigger", regressor, expected=404)["status"] == "UNRECOGNIZED_SENSOR"
    assert fed.get(f"{SENSOR}/forecasts/{uuid.uuid4()}", expected=404)["status"] == "UNKNOWN_FORECAST"
    assert fed.get(f"{SENSOR}/forecasts/not-a-uuid", expected=404)["status"] == "UNKNOWN_FORECAST"


def test_a_job_without_data_fails_and_switches_live_forecasting_on(fed: ForecastHarness) -> None:
    sensor = fed.post("/api/v3_0/sensors", {"name": "empty", "unit": "kW", "event_resolution": "PT15M",
                                            "generic_asset_id": 1}, expected=201)["id"]  # fmt: skip
    job_id = fed.post(f"/api/v3_0/sensors/{sensor}/forecasts/trigger", {"start": END.isoformat()})["forecast"]
    fed.settle()
    failed = fed.get(f"/api/v3_0/sensors/{sensor}/forecasts/{job_id}", expected=422)
    assert failed["status"] == "NO_DATA" and "no readings" in failed["message"]
    assert fed.get(f"/api/v3_0/jobs/{job_id}", expected=422)["status"] == "FAILED"
    fed.post_days(START, 1, sensor_id=sensor)
    fed.settle()
    status = fed.get(f"/api/v3_0/sensors/{sensor}/forecasting")
    # forecast because of the trigger: configured (with the defaults), not "false"
    assert status["configured"] is True and status["learned"] == 96 and status["forecasts"] == 24
    settings = status["settings"]
    assert settings["horizon"] == "PT48H" and settings["value-range-from"] == "sensor and asset type"


def test_forecasting_shows_the_model_choice_and_running_errors(fed: ForecastHarness) -> None:
    status = fed.get(f"{SENSOR}/forecasting")
    assert status["configured"] is True and status["settings"]["horizon"] == "PT48H"
    assert status["learned"] == DAYS * 96 and status["forecasts"] == DAYS * 24
    assert status["latest_belief_time"] == END.isoformat()
    assert status["selection"] == dict.fromkeys(["1h", "6h", "24h", "48h"], "ensemble")
    models = {"naive_day", "naive_week", "weekly_profile", "lag_linear", "lag_median", "holt_winters"}
    for bucket in status["selection"]:
        errors = status["running_errors"][bucket]
        assert set(errors) == {*models, "ensemble"}
        assert isinstance(errors["ensemble"]["n"], int) and errors["ensemble"]["n"] > 0
        assert errors["ensemble"]["one_minus_wape"] > 0.8
        assert sum(errors[m]["weight"] for m in models) == pytest.approx(1.0)
        heaviest = max(models, key=lambda m: errors[m]["weight"])
        assert errors[heaviest]["mae"] == min(errors[m]["mae"] for m in models)


def test_the_scheduler_seam(fed: ForecastHarness) -> None:
    with fed.platform.read_models.read_engine.connect() as conn:
        ahead = latest_forecast(conn, 1, END, END + timedelta(days=2))
        mixed = known_or_forecast(conn, 1, END - timedelta(days=1), END + timedelta(days=1))
    forecasters = ["forecaster:auto", "forecaster:trigger"]  # jobs' forecasts count too
    v3 = fed.get(f"{SENSOR}/data", start=END.isoformat(), duration="P2D", source=forecasters)["values"]
    assert [ahead[to_epoch_s(END) + 900 * i] for i in range(192)] == pytest.approx(v3)
    first = to_epoch_s(END - timedelta(days=1))
    assert [mixed[first + 900 * i] for i in range(96)] == pytest.approx(synthetic_load_kw(START, DAYS * 96)[-96:])
    assert [mixed[first + 900 * (96 + i)] for i in range(96)] == pytest.approx(v3[:96])


def test_a_job_is_202_while_it_waits(tmp_path: Path) -> None:
    harness = ForecastHarness(tmp_path)
    harness.platform.processors = [p for p in harness.platform.processors if p.name != "forecaster"]
    with harness:  # without the forecaster: the job stays queued
        job_id = harness.post(f"{SENSOR}/forecasts/trigger", {"start": END.isoformat()})["forecast"]
        pending = harness.client.get(f"{SENSOR}/forecasts/{job_id}", headers=harness.auth())
        assert pending.status_code == 202 and pending.json()["status"] == "QUEUED"
        assert harness.client.get(f"/api/v3_0/jobs/{job_id}", headers=harness.auth()).status_code == 202

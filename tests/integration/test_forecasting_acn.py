"""Forecasts of real EV charging load: four weeks of the ACN Caltech site through the API.

The site's uncontrolled charging load (kW at 15 minutes, from the measured ACN sessions, see
:func:`infra.shared_data.uncontrolled_load_kw`) is posted day by day to a sensor with the
``forecasting`` attribute (US holidays, Los Angeles time). Figures are printed (``-s``); the
assertions are about plumbing and consistency, with accuracy floors well below what the models
reach here, because four weeks of one site's spiky load is a hard, small sample. The accuracy
benchmark is ``bench/forecast_accuracy.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_forecasting_support import ForecastHarness

from infra.shared_data import acn_site_sessions, uncontrolled_load_kw

pytestmark = pytest.mark.shared_data

START = datetime(2019, 6, 3, tzinfo=UTC)  # a Monday
DAYS = 28
END = START + timedelta(days=DAYS)
SENSOR = "/api/v3_0/sensors/1"
ATTRIBUTES = {"forecasting": {"horizon": "PT48H", "country": "US"}}


def one_minus_wape(actual: list[float], predicted: list[float]) -> float:
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if p is not None]
    return 1 - sum(abs(a - p) for a, p in pairs) / sum(abs(a) for a, _ in pairs)


@pytest.fixture(scope="module")
def acn(tmp_path_factory, shared_data: Path):
    load = [round(float(v), 4) for v in uncontrolled_load_kw(acn_site_sessions(shared_data, "caltech"), START, END,
                                                             timedelta(minutes=15))]  # fmt: skip
    harness = ForecastHarness(tmp_path_factory.mktemp("acn"), attributes=ATTRIBUTES)
    with harness:
        harness.post_days(START, DAYS, values=load)
        harness.settle()
        yield harness, load


@pytest.fixture(scope="module")
def shared_data():
    from infra.shared_data import shared_data_dir

    folder = shared_data_dir()
    if folder is None:
        pytest.skip("../shared/data is absent (set FLEXLEDGER_SHARED_DATA to its path)")
    return folder


def test_live_forecasts_of_acn_load(acn) -> None:
    harness, load = acn
    status = harness.get(f"{SENSOR}/forecasting")
    assert status["learned"] == DAYS * 96 and status["forecasts"] == DAYS * 24
    print("\nACN Caltech, 15 min, running 1-WAPE over the last week, per horizon bucket:")
    for bucket, chosen in status["selection"].items():
        errors = status["running_errors"][bucket]
        print(f"  {bucket:>4}: {chosen} " + " ".join(f"{m}={e['one_minus_wape']:.3f}" for m, e in errors.items()))
        assert chosen == "ensemble"
        assert errors[chosen]["one_minus_wape"] >= errors["naive_day"]["one_minus_wape"]
    # the last week as forecast 6 h and 24 h ahead, hourly, through getPrognosis
    week = END - timedelta(days=7)
    hourly = [sum(load[i : i + 4]) / 4 for i in range((DAYS - 7) * 96, DAYS * 96, 4)]
    for horizon in ("PT6H", "PT24H"):
        answer = harness.get("/api/v2_0/getPrognosis", type="GetPrognosisRequest", connection=harness.connection,
                             start=week.isoformat(), duration="P7D", horizon=horizon, resolution="PT1H", unit="kW")
        accuracy = one_minus_wape(hourly, answer["values"])
        print(f"  getPrognosis {horizon} ahead, hourly, last week: 1-WAPE {accuracy:.3f}")
        assert None not in answer["values"] and accuracy > 0.2


def test_a_day_ahead_job_on_acn_load(acn) -> None:
    harness, load = acn
    week = END - timedelta(days=7)
    body = {"start": week.isoformat(), "end": END.isoformat(), "max-forecast-horizon": "PT24H",
            "forecast-frequency": "PT24H", "config": {"train-period": "P21D"}}  # fmt: skip
    job_id = harness.post(f"{SENSOR}/forecasts/trigger", body)["forecast"]
    harness.settle()
    forecast = harness.get(f"{SENSOR}/forecasts/{job_id}")
    accuracy = one_minus_wape(load[-7 * 96 :], forecast["values"])
    print(f"\n  day-ahead job (walk-forward, trained on 3 weeks), last week: 1-WAPE {accuracy:.3f}")
    assert len(forecast["values"]) == 7 * 96 and accuracy > 0.1
    assert forecast["belief_time"] == (END - timedelta(days=1)).isoformat()

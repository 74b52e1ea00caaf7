"""Rewrite the demo's shipped data slices (``infra/demo_data``) from ``../shared/data``.

``flexledger demo --regenerate-slices`` calls :func:`regenerate_slices`. Three weeks of each:

* ``caltech_load_15min.csv`` — the Caltech ACN garage's uncontrolled charging load (kW).
* ``caltech_evse_load_15min.csv`` — the same for the four EVSEs with the most sessions in
  those weeks, one column per station id (kW).
* ``nl_day_ahead_prices.csv`` — Dutch day-ahead prices (EUR/MWh, hourly).

Power is consumption-positive (USEF).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path

from infra.demo import EVSE_LOAD_CSV, LOAD_CSV, LOAD_SLICE_START, PRICE_SLICE_START, PRICES_CSV, SLICE_DAYS
from infra.shared_data import acn_site_sessions, load_nl_day_ahead_prices, uncontrolled_load_kw

EVSE_COUNT = 4
STEP = timedelta(minutes=15)


def regenerate_slices(data_dir: Path) -> None:
    """Rewrite the three shipped slices from ``data_dir`` (``../shared/data``)."""
    start, end = LOAD_SLICE_START, LOAD_SLICE_START + timedelta(days=SLICE_DAYS)
    sessions = acn_site_sessions(data_dir, "caltech")
    times = [start + i * STEP for i in range(int((end - start) / STEP))]
    load = uncontrolled_load_kw(sessions, start, end, STEP)
    with LOAD_CSV.open("w") as out:
        out.write("datetime,power_kw\n")
        out.writelines(f"{t.isoformat()},{v:.3f}\n" for t, v in zip(times, load, strict=True))
    counts = Counter(s.station_id for s in sessions if start <= s.arrival < end)
    busiest = sorted(station for station, _ in counts.most_common(EVSE_COUNT))
    columns = [uncontrolled_load_kw([s for s in sessions if s.station_id == st], start, end, STEP) for st in busiest]
    with EVSE_LOAD_CSV.open("w") as out:
        out.write(",".join(["datetime", *busiest]) + "\n")
        for i, moment in enumerate(times):
            out.write(",".join([moment.isoformat(), *(f"{c[i]:.3f}" for c in columns)]) + "\n")
    price_times, prices = load_nl_day_ahead_prices(data_dir)
    price_end = PRICE_SLICE_START + timedelta(days=SLICE_DAYS)
    with PRICES_CSV.open("w") as out:
        out.write("datetime,price_eur_per_mwh\n")
        for moment, price in zip(price_times, prices, strict=True):
            if PRICE_SLICE_START <= moment < price_end:
                out.write(f"{moment.astimezone(UTC).isoformat()},{price}\n")


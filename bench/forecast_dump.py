"""Replay a real series through the forecaster and dump what it serves; compare two dumps.

For checking that a change to the forecaster's arithmetic leaves its output alone: run
``dump`` once on each checkout (``PYTHONPATH`` selects the code), then ``compare``. A dump holds
every forecast ``observe_all`` makes (``now_start``, ``values``, ``selected``, ``per_model``,
``weights``) and, once per 24 readings, ``running_errors()`` and ``selection()``. With
``--checkpoint N`` the forecaster is pickled and restored after ``N`` readings (a restored
checkpoint must continue exactly like the uninterrupted run). The data folder is
``$FLEXLEDGER_SHARED_DATA`` or ``../shared/data`` (:func:`infra.shared_data.shared_data_dir`).
``compare`` prints whether the dumps are bit-identical and the largest differences (values in
the readings' unit).

    PYTHONPATH=. .venv/bin/python bench/forecast_dump.py dump "acn caltech 60min" 3000 /tmp/new.pkl --checkpoint 1700
    PYTHONPATH=. .venv/bin/python bench/forecast_dump.py compare /tmp/base.pkl /tmp/new.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forecast_data import load_datasets  # noqa: E402
from domain.forecasting import ForecasterConfig, SensorForecaster  # noqa: E402
from domain.forecasting.value_range import default_value_range  # noqa: E402
from infra.shared_data import shared_data_dir  # noqa: E402


def dump(name: str, readings: int, out: Path, checkpoint: int | None) -> None:
    folder = shared_data_dir()
    if folder is None:
        raise SystemExit("shared data folder not found (set FLEXLEDGER_SHARED_DATA)")
    data = dict(load_datasets(folder))[name]()
    value_range = default_value_range(data.unit, data.sensor_name, data.asset_type)
    config = ForecasterConfig(data.resolution, data.timezone, data.country, value_range=value_range)
    forecaster = SensorForecaster(config)
    entries: list[tuple] = []
    started = time.process_time()
    for i, value in enumerate(data.values[:readings]):
        if checkpoint is not None and i == checkpoint:
            forecaster = SensorForecaster.from_state(forecaster.to_state())
        for made in forecaster.observe_all(data.start + i * data.resolution, float(value)) or ():
            per_model = {k: tuple(v) for k, v in made.per_model.items()}
            weights = {k: dict(v) for k, v in made.weights.items()}
            entries.append((made.now_start, made.values, made.selected, per_model, weights))
        if i % 24 == 0:
            entries.append(("running", forecaster.running_errors(), forecaster.selection()))
    cpu = time.process_time() - started
    out.write_bytes(pickle.dumps(entries))
    print(f"{name}: {readings} readings, {len(entries)} entries, {cpu * 1000 / readings:.3f} CPU ms per reading")


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _running_diff(a: tuple, b: tuple) -> float | None:
    """Largest relative running-error difference (0.0: identical); None if the selections differ."""
    if a[2] != b[2]:
        return None
    worst = 0.0
    for label, models in a[1].items():
        for model, figures in models.items():
            for key, value in figures.items():
                other = b[1][label][model][key]
                if not _same(value, other):
                    worst = max(worst, abs(value - other) / max(abs(value), 1e-12), 1e-300)
    return worst


def _forecast_diff(a: tuple, b: tuple) -> tuple[float, float] | None:
    """Largest value and weight differences (0.0: identical); None if the forecasts' shapes differ."""
    if a[0] != b[0] or a[2] != b[2] or a[3].keys() != b[3].keys() or a[4].keys() != b[4].keys():
        return None
    values = 0.0
    for x, y in [(a[1], b[1]), *((a[3][k], b[3][k]) for k in a[3])]:
        if x != y:
            values = max(values, *(abs(p - q) for p, q in zip(x, y, strict=True)), 1e-300)
    weights = 0.0
    for label, per_model in a[4].items():
        for model, weight in per_model.items():
            if weight != b[4][label][model]:
                weights = max(weights, abs(weight - b[4][label][model]), 1e-300)
    return values, weights


def compare(first: Path, second: Path) -> bool:
    a_entries, b_entries = pickle.loads(first.read_bytes()), pickle.loads(second.read_bytes())  # noqa: S301 - own dumps
    if len(a_entries) != len(b_entries):
        print(f"different lengths: {len(a_entries)} and {len(b_entries)}")
        return False
    value_diff = weight_diff = error_diff = 0.0
    for a, b in zip(a_entries, b_entries, strict=True):
        if a[0] == "running":
            found = _running_diff(a, b)
            if found is None:
                print("selection differs:", a[2], b[2])
                return False
            error_diff = max(error_diff, found)
            continue
        diffs = _forecast_diff(a, b)
        if diffs is None:
            print("forecast differs in time, selection, models or buckets:", a[0], b[0])
            return False
        value_diff, weight_diff = max(value_diff, diffs[0]), max(weight_diff, diffs[1])
    exact = value_diff == weight_diff == error_diff == 0.0
    verdict = "bit-identical" if exact else "NOT identical"
    print(
        f"{len(a_entries)} entries {verdict}; max |value diff| {value_diff}, max |weight diff| {weight_diff}, "
        f"max relative running-error diff {error_diff}"
    )
    return exact


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump")
    dumping.add_argument("dataset", help='a name from bench/forecast_data.py, e.g. "acn caltech 60min"')
    dumping.add_argument("readings", type=int)
    dumping.add_argument("out", type=Path)
    dumping.add_argument("--checkpoint", type=int, default=None, help="pickle and restore after this many readings")
    comparing = commands.add_parser("compare")
    comparing.add_argument("first", type=Path)
    comparing.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.dataset, args.readings, args.out, args.checkpoint)
        return 0
    return 0 if compare(args.first, args.second) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Where the forecaster keeps each sensor's live model between batches and restarts: the
``forecaster_state`` table (one row per sensor: the pickled model, its settings key and the
position of the last stream event it learned). Rows are written in the same transaction as the
forecaster's checkpoint (:mod:`streams.forecaster`)."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass

import sqlalchemy as sa

from domain.forecasting import SensorForecaster
from domain.ports.checkpoints import CheckpointStore

log = logging.getLogger("streams.forecaster")
NAME = "forecaster"

metadata = sa.MetaData()
forecaster_state = sa.Table(
    "forecaster_state",
    metadata,
    sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("settings", sa.String(400), nullable=False),
    sa.Column("triggered", sa.Boolean, nullable=False),
    sa.Column("learned", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary),
)


@dataclass
class SensorModel:
    """One sensor's live forecaster and the global position of the last stream event it learned."""

    sensor_id: int
    triggered: bool = False
    settings_key: str = ""
    forecaster: SensorForecaster | None = None
    position: int = 0


def _to_row(model: SensorModel) -> dict:
    forecaster = model.forecaster
    return {
        "sensor_id": model.sensor_id,
        "position": model.position,
        "settings": model.settings_key,
        "triggered": model.triggered,
        "learned": 0 if forecaster is None else forecaster.learned,
        "state": None if forecaster is None else forecaster.to_state(),
    }


def _from_row(row) -> SensorModel:
    try:
        forecaster = None if row["state"] is None else SensorForecaster.from_state(row["state"])
    except (ValueError, TypeError, AttributeError, ImportError, pickle.UnpicklingError) as exc:
        # a state of an older model version: rebuilt from the sensor's stream on its next reading
        log.info("sensor %s: model state not restorable (%r), rebuilding", row["sensor_id"], exc)
        return SensorModel(row["sensor_id"], bool(row["triggered"]))
    return SensorModel(row["sensor_id"], bool(row["triggered"]), row["settings"], forecaster, int(row["position"]))


def reset_forecaster(engine: sa.Engine, checkpoints: CheckpointStore) -> None:
    """Delete the forecaster's model states and checkpoints (the forecasts already stored stay)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(forecaster_state.delete())
        checkpoints.forget(NAME, within=conn)



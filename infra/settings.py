"""Settings, from ``FLEXLEDGER_*`` environment variables (pydantic-settings).

Adapters are chosen explicitly by these settings in :mod:`infra.bootstrap`:

* ``FLEXLEDGER_EVENT_STORE``: ``sqlite`` (default) | ``postgres`` | ``kurrentdb``
* ``FLEXLEDGER_LOG``: ``memory`` (default) | ``kafka``
* ``FLEXLEDGER_READ_MODELS``: ``sqlite`` (default) | ``postgres``
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLEXLEDGER_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Data folder of the embedded deployment.")
    event_store: Literal["sqlite", "postgres", "kurrentdb"] = "sqlite"
    log: Literal["memory", "kafka"] = "memory"
    read_models: Literal["sqlite", "postgres"] = "sqlite"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/flexledger"
    read_models_url: str | None = Field(default=None, description="PostgreSQL URL of the read models.")
    kurrentdb_url: str = "esdb://127.0.0.1:2113?tls=false"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_partitions: int = 6

    host: str = "127.0.0.1"
    port: int = 8000
    token_max_age_s: int = Field(default=6 * 3600, description="Lifetime of auth tokens.")
    token_secret: str | None = Field(default=None, description="HMAC key for tokens; generated and kept in home.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Largest accepted request body.")
    consistent_writes: bool = Field(
        default=True, description="POSTs wait (bounded) until the read models show the new data."
    )
    consistency_timeout_s: float = 5.0
    bcrypt_rounds: int = 12
    run_processors: bool = Field(default=True, description="Run relay and processors inside the API process.")
    feed_window_values: int = Field(
        default=400_000, gt=0, description="Readings the embedded processors' shared window of recent events holds."
    )

    scheduler_backend: Literal["highs", "scip"] = Field(default="highs", description="MILP solver (OR-Tools).")
    scheduler_time_limit_s: float = Field(default=10.0, gt=0, description="Solver wall time per schedule (s).")
    scheduler_relative_gap: float = Field(
        default=1e-4, ge=0, lt=1, description="Relative MIP gap at which a schedule counts as optimal."
    )

    @property
    def event_store_path(self) -> Path:
        return self.home / "events.db"

    @property
    def read_models_path(self) -> Path:
        return self.home / "readmodels.db"

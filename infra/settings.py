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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Server log level: INFO logs one line per request and every failed job."
    )
    token_max_age_s: int = Field(default=6 * 3600, description="Lifetime of auth tokens.")
    token_secret: str | None = Field(default=None, description="HMAC key for tokens; generated and kept in home.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Largest accepted request body.")
    max_url_bytes: int = Field(default=16 * 1024, gt=0, description="Longest accepted path + query string (414).")
    max_readings_per_request: int = Field(
        default=100_000, gt=0, description="Most readings one request may write (after upsampling; 413)."
    )
    max_readings_per_response: int = Field(
        default=100_000, gt=0, description="Most values one GET may return (steps x connections; 413)."
    )
    consistent_writes: bool = Field(
        default=True, description="POSTs wait (bounded) until the read models show the new data."
    )
    consistency_timeout_s: float = 5.0
    bcrypt_rounds: int = 12
    run_processors: bool = Field(default=True, description="Run relay and processors inside the API process.")
    processors_process: bool = Field(
        default=False,
        description="Embedded (SQLite, in-process log): run the processors in a second process (infra/processes.py).",
    )
    stream_send_timeout_s: float = Field(
        default=30.0, gt=0, description="A subscriber whose send blocks this long (stalled) is disconnected."
    )
    stream_key_max_age_s: int = Field(default=90 * 86400, gt=0, description="Lifetime of stream keys (API keys).")
    audit_checkpoint_interval_s: float = Field(
        default=3600.0, ge=0, description="Signed head-hash checkpoints to <home>/checkpoints.jsonl (0 = off)."
    )
    webhook_max_attempts: int = Field(default=8, ge=1, description="Failed attempts before a delivery is dead.")
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="Wait after the first failed attempt (doubles).")
    webhook_max_backoff_s: float = Field(default=3600.0, gt=0, description="Longest wait between attempts.")
    webhook_allow_private: bool = Field(
        default=False, description="Allow webhook URLs on loopback, private and link-local addresses (SSRF guard off)."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60, description="Time limit of one delivery attempt.")
    stream_max_lag_s: float = Field(
        default=300.0, gt=0, description="A live subscriber this far behind (recorded-at) is told to resume later."
    )
    feed_window_values: int = Field(
        default=400_000, gt=0, description="Readings the embedded processors' shared window of recent events holds."
    )

    scheduler_backend: Literal["highs", "scip"] = Field(default="highs", description="MILP solver (OR-Tools).")
    scheduler_time_limit_s: float = Field(default=10.0, gt=0, description="Solver wall time per schedule (s).")
    scheduler_relative_gap: float = Field(
        default=1e-4, ge=0, lt=1, description="Relative MIP gap at which a schedule counts as optimal."
    )

    devices_simulated: bool = Field(default=True, description="Run the in-process simulated device gateway.")
    ocpp_enabled: bool = Field(default=False, description="Run the OCPP 1.6J central system (device gateway).")
    ocpp_host: str = "127.0.0.1"
    ocpp_port: int = Field(default=9000, ge=0, le=65535, description="Port of ws://HOST:PORT/ocpp/{chargePointId}.")
    mqtt_enabled: bool = Field(default=False, description="Run the MQTT device gateway.")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_topic_prefix: str = Field(default="flexledger/devices", description="Topics: PREFIX/<device id>/...")

    @property
    def event_store_path(self) -> Path:
        return self.home / "events.db"

    @property
    def read_models_path(self) -> Path:
        return self.home / "readmodels.db"

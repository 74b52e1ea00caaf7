"""docker-compose.yml, Dockerfile and the collector config, checked as data (no Docker here).

The app services must be configured only by real settings: every ``FLEXLEDGER_*`` variable is
a field of :class:`infra.settings.Settings`, and the values parse into the distributed
adapters (KurrentDB, Kafka, PostgreSQL/TimescaleDB).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kurrentdbclient.connection_spec import ConnectionSpec

from infra.settings import Settings
from infra.telemetry import exporters_requested

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("api", "worker-1", "worker-2")
INFRA_IMAGES = {
    "kurrentdb": "kurrentplatform/kurrentdb:",
    "kafka": "apache/kafka:",
    "timescaledb": "timescale/timescaledb:latest-pg16",
    "otel-collector": "otel/opentelemetry-collector",
    "jaeger": "jaegertracing/",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _settings_of(service: dict) -> Settings:
    env = service.get("environment", {})
    fields = {k.removeprefix("FLEXLEDGER_").lower(): v for k, v in env.items() if k.startswith("FLEXLEDGER_")}
    return Settings.model_validate(fields)


def test_services_and_images(services):
    assert set(INFRA_IMAGES) | set(APP_SERVICES) | {"readmodels-setup"} <= set(services)
    for name, image in INFRA_IMAGES.items():
        assert services[name]["image"].startswith(image), name
        assert not services[name]["image"].endswith(":"), f"{name}: image needs a tag"
    for name in (*APP_SERVICES, "readmodels-setup"):
        assert services[name]["build"] == "." and services[name]["image"] == "flexledger:latest"
    assert "zookeeper" not in services


def test_published_ports(services):
    assert "8000:8000" in services["api"]["ports"]
    assert "2113:2113" in services["kurrentdb"]["ports"]
    assert "16686:16686" in services["jaeger"]["ports"]
    host_ports = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), "a host port is published twice"


def test_healthchecks_and_start_order(services):
    for name in ("kurrentdb", "kafka", "timescaledb", "api"):
        assert services[name]["healthcheck"]["test"], name
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        for backend in ("kurrentdb", "kafka", "timescaledb"):
            assert depends[backend]["condition"] == "service_healthy", (name, backend)
        assert depends["readmodels-setup"]["condition"] == "service_completed_successfully"
        assert "otel-collector" in depends
    assert services["readmodels-setup"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"


def test_every_flexledger_variable_is_a_settings_field(services):
    known = set(Settings.model_fields)
    for name, service in services.items():
        for variable in service.get("environment", {}):
            if variable.startswith("FLEXLEDGER_"):
                field = variable.removeprefix("FLEXLEDGER_").lower()
                assert field in known, f"{name}: {variable} is not a Settings field"


def test_app_services_use_the_distributed_adapters(services):
    for name in APP_SERVICES:
        settings = _settings_of(services[name])
        assert (settings.event_store, settings.log, settings.read_models) == ("kurrentdb", "kafka", "postgres"), name
        assert settings.run_processors is False, name
        assert settings.kafka_partitions >= 2, name
        assert ConnectionSpec(settings.kurrentdb_url).targets == ["kurrentdb:2113"]
        assert settings.kafka_bootstrap_servers == "kafka:9092"
        url = urlsplit(settings.read_models_url or "")
        assert (url.hostname, url.port, url.path) == ("timescaledb", 5432, "/flexledger")


def test_credentials_and_listeners_agree(services):
    db = services["timescaledb"]["environment"]
    url = urlsplit(_settings_of(services["api"]).read_models_url or "")
    assert (url.username, url.password) == (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"])
    setup = _settings_of(services["readmodels-setup"])
    assert setup.read_models_url == _settings_of(services["api"]).read_models_url
    kafka = services["kafka"]["environment"]
    assert "broker" in kafka["KAFKA_PROCESS_ROLES"] and "controller" in kafka["KAFKA_PROCESS_ROLES"]
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert services["kurrentdb"]["environment"]["KURRENTDB_INSECURE"] == "true"
    assert "tls=false" in _settings_of(services["api"]).kurrentdb_url


def test_commands(services):
    api = services["api"]["command"]
    assert api[:2] == ["flexledger", "serve"] and api[api.index("--host") + 1] == "0.0.0.0"
    relays = [n for n in APP_SERVICES if "--relay" in services[n]["command"]]
    assert relays == ["worker-1"], "exactly one relay per deployment"
    assert services["worker-2"]["command"] == ["flexledger", "worker"]


def test_telemetry_goes_to_the_collector(services):
    names = set()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).hostname == "otel-collector"
        assert exporters_requested(env, "TRACES") == ["otlp"] and exporters_requested(env, "METRICS") == ["otlp"]
        names.add(env["OTEL_SERVICE_NAME"])
    assert len(names) == len(APP_SERVICES), "each service reports under its own name"


def test_collector_config_sends_traces_to_jaeger(services):
    mount = next(v for v in services["otel-collector"]["volumes"] if "otel-collector.yaml" in v)
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert {config["exporters"][e].get("endpoint") for e in traces["exporters"]} == {"jaeger:4317"}
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}


def test_dockerfile_installs_from_pyproject_with_the_lock():
    text = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml requirements.lock" in text
    assert "pip install -c requirements.lock ." in text
    assert "EXPOSE 8000" in text and "FROM python:3.11" in text
    for package in ("domain", "commands", "projections", "streams", "api", "infra"):
        assert f"COPY {package} ./{package}" in text, package

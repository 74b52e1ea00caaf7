"""A real flexledger server (``flexledger serve``) in a subprocess, for the end-to-end tests.

The server runs ``python -m infra.cli serve`` (uvicorn, embedded runner) on a free port with its
data in a temporary folder. Tests seed users (and assets, sensors) through the command
handlers *before* starting it, and run the projections once so the server starts with
up-to-date read models. Waiting for the server to answer is bounded; nothing here asserts on
time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from commands import registry as cmd
from infra.bootstrap import build_platform
from infra.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "e2e@flexledger.test", "e2e-password-1"
STARTUP_DEADLINE_S = 60.0
SETTINGS = dict(event_store="sqlite", log="memory", read_models="sqlite", bcrypt_rounds=4)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Seeded:
    account_id: int
    user_id: int
    asset_id: int | None = None
    sensor_id: int | None = None


def seed(home: Path, sensor_resolution_s: int | None = None) -> Seeded:
    """Register an account and user (and an asset with a kW sensor); project them; close."""
    platform = build_platform(Settings(home=home, **SETTINGS))
    try:
        ctx = platform.commands
        account_id = cmd.register_account(ctx, cmd.RegisterAccount(name="E2E Charging", roles=["Prosumer"]))
        user_id = cmd.register_user(ctx, cmd.RegisterUser(email=EMAIL, password=PASSWORD, account_id=account_id))
        seeded = Seeded(account_id, user_id)
        if sensor_resolution_s is not None:
            seeded.asset_id = cmd.register_asset(
                ctx, cmd.RegisterAsset(account_id=account_id, name="E2E site", asset_type="charge_site")
            )
            seeded.sensor_id = cmd.register_sensor(
                ctx,
                cmd.RegisterSensor(
                    asset_id=seeded.asset_id, name="power", unit="kW", event_resolution_s=sensor_resolution_s
                ),
            )
        platform.start()
        assert platform.wait_for(platform.store.head_position(), timeout_s=30), "seed projections did not catch up"
        return seeded
    finally:
        platform.close()


@dataclass
class ServerProcess:
    """``flexledger serve`` on ``home``; restartable (same data, a new port each start)."""

    home: Path
    port: int = 0
    process: subprocess.Popen | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.port, self.starts = free_port(), self.starts + 1
        log = self.home / f"server-{self.starts}.log"
        self.logs.append(log)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FLEXLEDGER_")},
            **{f"FLEXLEDGER_{k.upper()}": str(v) for k, v in SETTINGS.items()},
            "FLEXLEDGER_HOME": str(self.home),
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "infra.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/api/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {STARTUP_DEADLINE_S} s:\n{self.log_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was committed must survive."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in self.logs if p.exists())


def login(url: str) -> str:
    response = httpx.post(f"{url}/api/requestAuthToken", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["auth_token"]

"""End-to-end fixtures: a real server process per test (see :mod:`e2e_server`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import ServerProcess


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def server_factory(server_home: Path) -> Iterator[ServerProcess]:
    """A not yet started server on ``server_home`` (seed first, then ``.start()``); stopped afterwards."""
    server = ServerProcess(server_home)
    try:
        yield server
    finally:
        server.stop()

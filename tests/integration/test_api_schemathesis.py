"""Property-based fuzzing of the whole HTTP API with schemathesis, from its own OpenAPI spec.

Every operation of ``app.openapi()`` gets generated requests (valid and invalid by the spec),
sent in process to the ASGI app of a seeded platform with a user's token. Two checks must hold
for every answer: **no server error** (5xx) and **the response conforms to the documented
schema** (status code's schema, JSON). Bounded: ``MAX_EXAMPLES`` per operation, no shrinking
phase, hypothesis' database off, so the run is deterministic in size (about 30 s here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_api_support import ALICE, ApiHarness

MAX_EXAMPLES = int(os.environ.get("FLEXLEDGER_FUZZ_EXAMPLES", "12"))
"""Examples per operation (CI: 12; set FLEXLEDGER_FUZZ_EXAMPLES for a longer hunt)."""
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Iterator[ApiHarness]:
    home = Path(tmp_path_factory.mktemp("schemathesis"))
    # small limits keep generated reads and writes cheap; the scheduler's time limit bounds solves
    with ApiHarness(
        home, max_readings_per_request=2000, max_readings_per_response=2000, scheduler_time_limit_s=1.0
    ) as api:
        yield api


def test_api_has_no_server_errors_and_honours_its_schema(harness: ApiHarness) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    headers = harness.auth(ALICE)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 26
    assert not failures, "\n\n".join(failures)
    print(f"schemathesis: {operations} operations x up to {MAX_EXAMPLES} examples, 0 failures")

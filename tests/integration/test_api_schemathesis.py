"""Property-based fuzzing of the whole HTTP API with schemathesis, from its own OpenAPI spec.

Every operation of ``app.openapi()`` gets generated requests (valid and invalid by the spec),
sent in process to the ASGI app of a seeded platform with a user's token. Two checks must hold
for every answer: **no server error** (5xx) and **the response conforms to the documented
schema** (status code's schema, JSON). Bounded: ``MAX_EXAMPLES`` per operation, no shrinking
phase, hypothesis' database off, so the run is deterministic in size (about 30 s here).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_api_support import ALICE, ApiHarness

MAX_EXAMPLES = int(os.environ.get("FLEXLEDGER_FUZZ_EXAMPLES", "12"))
"""Examples per operation (CI: 12; set FLEXLEDGER_FUZZ_EXAMPLES for a longer, randomised hunt)."""
HUNTING = "FLEXLEDGER_FUZZ_EXAMPLES" in os.environ
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Iterator[ApiHarness]:
    home = Path(tmp_path_factory.mktemp("schemathesis"))
    # small limits keep generated reads and writes cheap; the scheduler's time limit bounds solves
    with ApiHarness(
        home, max_readings_per_request=2000, max_readings_per_response=2000, scheduler_time_limit_s=1.0
    ) as api:
        yield api


SEEDED_IDS = 8
"""Ids 1..8 exist in the seeded world (accounts, users, assets, sensors)."""


def seeded_ids(case) -> None:
    """Fold generated integer ids onto the seeded objects, so generated requests reach the routes'
    happy paths (random 64-bit ids only meet 404s); DELETEs keep theirs (the world stays)."""
    if case.method.upper() == "DELETE":
        return
    for params in (case.path_parameters, case.query):
        for name, value in list((params or {}).items()):
            if isinstance(value, int) and not isinstance(value, bool) and name.endswith("_id") and value > 0:
                params[name] = value % SEEDED_IDS + 1


def test_api_has_no_server_errors_and_honours_its_schema(harness: ApiHarness) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    headers = harness.auth(ALICE)
    failures, operations, statuses = [], 0, Counter()
    flexmeasures_operations, happy = 0, [0]
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # FlexMeasures' API takes the Authorization token these cases send; the FINESCE, Realto and
        # MyEMS adapters authenticate their own way, so their generated calls mostly meet 401
        flexmeasures_api = operation.path.startswith(("/api/v3_0/", "/api/v2_0/", "/api/requestAuthToken"))
        flexmeasures_operations += flexmeasures_api

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            database=None,
            derandomize=not HUNTING,  # CI: the same examples on every run, it cannot flake
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            seeded_ids(case)
            status = case.call_and_validate(headers=headers, checks=CHECKS).status_code
            statuses[status] += 1
            if status < 300 and flexmeasures_api:  # noqa: B023 - fuzz() runs within this iteration
                happy[0] += 1

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 26
    assert not failures, "\n\n".join(failures)
    print(f"schemathesis: {operations} operations x up to {MAX_EXAMPLES} examples, 0 failures; {dict(statuses)}")
    assert happy[0] >= flexmeasures_operations  # happy paths of FlexMeasures' API are reached too

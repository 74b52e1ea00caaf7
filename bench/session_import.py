"""Benchmark: import the 2019 Caltech (ACN-Data) sessions and check count and energy against the files.

Usage: ``python bench/session_import.py [FILE ...]`` (default: both 2019 Caltech files in
``../shared/data/acn``). Builds an embedded platform in a temporary folder, imports each file
with :func:`infra.session_import.import_sessions`, waits for the charge-session projection and
prints sessions/s, the projection's catch-up time and the count/energy comparison.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from commands import registry as reg
from infra.bootstrap import build_platform
from infra.session_import import import_sessions, read_sessions
from infra.settings import Settings
from infra.shared_data import shared_data_dir
from projections.charge_sessions_query import session_totals


def main(paths: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as home:
        platform = build_platform(Settings(home=Path(home), event_store="sqlite", log="memory", read_models="sqlite",
                                           bcrypt_rounds=4))
        platform.start()
        try:
            ctx = platform.commands
            account = reg.register_account(ctx, reg.RegisterAccount(name="Caltech"))
            expected_count, expected_kwh, started = 0, 0.0, time.perf_counter()
            for path in paths:
                rows = read_sessions(path)[1]
                expected_count += len(rows)
                expected_kwh += sum(r.energy_kwh for r in rows)
                import_sessions(ctx, account, path, site="caltech")
            imported = time.perf_counter()
            assert platform.wait_for(platform.store.head_position(), timeout_s=600)
            projected = time.perf_counter()
            with platform.read_models.read_engine.connect() as conn:
                count, total_kwh = session_totals(conn, account)
            events = platform.store.head_position()
        finally:
            platform.close()
    print(f"sessions: {count} (file: {expected_count}); energy: {total_kwh:.6f} kWh (file: {expected_kwh:.6f})")
    print(f"import: {imported - started:.1f} s ({expected_count / (imported - started):.0f} sessions/s); "
          f"projection caught up {projected - imported:.1f} s later; events: {events}")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    if not args:
        folder = shared_data_dir()
        if folder is None:
            sys.exit("../shared/data is absent (set FLEXLEDGER_SHARED_DATA)")
        args = sorted((folder / "acn").glob("caltech_2019-*.csv"))
    main(args)

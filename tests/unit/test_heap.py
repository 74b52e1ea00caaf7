"""The start-up heap freeze of long-running processes (infra/heap.py), in a child process: freezing
the test process itself would keep its cyclic garbage for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_freeze_start_up_heap_moves_what_exists_into_the_permanent_generation():
    code = (
        "import gc, json; from infra.heap import freeze_start_up_heap; before = gc.get_freeze_count(); "
        "freeze_start_up_heap(); print(json.dumps([before, gc.get_freeze_count(), sum(gc.get_count())]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, frozen, young = map(int, out.stdout.strip()[1:-1].split(","))
    assert before == 0 and frozen > 1000 and young < 100

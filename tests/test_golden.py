"""Golden back-test: two tiny seeded runs whose KPIs are stored and compared exactly.

A change here means the model's numbers changed. If that was deliberate, regenerate
with `python -m tests.golden_update` and say why in the commit message.
"""

from __future__ import annotations

import json

from tests.golden_update import GOLDEN, compute


def test_kpis_match_the_stored_golden_values_exactly():
    stored = json.loads(GOLDEN.read_text())
    now = json.loads(json.dumps(compute()))  # the same float round trip as the file
    assert set(now) == set(stored)
    for case in stored:
        diff = {k: (stored[case].get(k), now[case].get(k)) for k in set(stored[case]) | set(now[case])
                if stored[case].get(k) != now[case].get(k)}
        assert not diff, f"{case}: {diff}"

"""collectsim: collection strategies for overdue card instalment plans, compared in a
discrete-event simulation on the same synthetic portfolio.

    >>> from sim import load_scenario, load_strategy, run
    >>> result = run(load_scenario("baseline"), load_strategy("seed_playbook"), seed=1)
    >>> result.kpis["cure_rate_30"]
"""

__version__ = "0.1.0"

from pathlib import Path  # noqa: E402

from .jitcache import drop_stale  # noqa: E402

# before any compiled kernel loads: a kernel cached with an older helper of another module
# would run the old helper (sim/jitcache.py)
drop_stale(Path(__file__).resolve().parent)

from .config import load_scenario, load_strategy  # noqa: E402
from .engine import run  # noqa: E402
from .errors import ConfigError  # noqa: E402

__all__ = ["ConfigError", "load_scenario", "load_strategy", "run", "__version__"]

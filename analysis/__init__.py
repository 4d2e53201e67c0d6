"""Statistics, figures and reports built from ``sim`` results.

Plotting lives here so that ``import sim`` never pulls in matplotlib; the CLI imports
this package only inside the commands that draw.
"""

from __future__ import annotations

__all__ = ["figures", "report", "stats", "style"]

"""One-line reward histories (``▁▂▃▄▅▆▇█``), shared by ``rewards``, ``instances list`` and the live panel."""

from __future__ import annotations

from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
DEFAULT_WIDTH = 24


def sparkline(values: Sequence[float], width: int = DEFAULT_WIDTH) -> str:
    """The last ``width`` values scaled between their smallest and largest.

    Empty without data; a flat series is a flat line at mid height (no change is neither good nor bad,
    and a bottom line would read as "nothing earned").
    """
    values = list(values)[-width:] if width > 0 else []
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return BARS[len(BARS) // 2] * len(values)
    top = len(BARS) - 1
    return "".join(BARS[min(top, int((v - low) / span * top + 0.5))] for v in values)

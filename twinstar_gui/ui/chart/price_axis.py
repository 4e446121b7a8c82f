"""Prices as a trader reads them: digits and thousands separators, never an exponent (a KRW price of 84,500,000
showed as 8.45e+07 on pyqtgraph's default axis, which switches to %g past 10,000)."""
from __future__ import annotations

import math

import pyqtgraph as pg

SIGNIFICANT = 8  # digits a price shows at most (BTC in KRW: 84,500,000; PEPE in USDT: 0.0000089)
MAX_DECIMALS = 10


def price_text(value: float) -> str:
    """`84,500,000`, `65,000.1`, `0.0000089`: about eight significant digits, trailing zeros dropped."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    decimals = min(MAX_DECIMALS, max(0, SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class PriceAxis(pg.AxisItem):
    """Tick labels with as many decimals as the tick spacing needs, thousands separated, no exponent."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if spacing <= 0 or not math.isfinite(spacing * scale):
            return super().tickStrings(values, scale, spacing)
        places = min(MAX_DECIMALS, max(0, math.ceil(-math.log10(spacing * scale))))
        return [f"{v * scale:,.{places}f}" for v in values]

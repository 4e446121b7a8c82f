"""Prices as a trader reads them: digits and thousands separators, never an exponent (a KRW price of 84,500,000
showed as 8.45e+07 on pyqtgraph's default axis, which switches to %g past 10,000)."""
from __future__ import annotations

import math

from ...core.prices import MAX_DECIMALS, price_text
from .axes import Axis

__all__ = ["PriceAxis", "price_text"]

class PriceAxis(Axis):
    """Tick labels with as many decimals as the tick spacing needs, thousands separated, no exponent."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if spacing <= 0 or not math.isfinite(spacing * scale):
            return super().tickStrings(values, scale, spacing)
        places = min(MAX_DECIMALS, max(0, math.ceil(-math.log10(spacing * scale))))
        return [f"{v * scale:,.{places}f}" for v in values]

"""Prices and sizes as a trader reads them: digits with thousands separators, never an exponent, and, where the
instrument is known, exactly the decimals its tick (or lot) has: BTC/USDT:USDT at tick 0.1 reads 65,000.1, not
65000.1000; BTC/KRW at a step of 1,000 reads 84,500,000; a KRW coin under 1 won reads 0.1234 at its 0.0001 step."""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .instrument import Instrument

SIGNIFICANT = 8  # digits a price shows at most when its tick is unknown (84,500,000; 0.0000089)
MAX_DECIMALS = 10


def step_decimals(step: float) -> int | None:
    """Decimals a tick or lot size has as written (0.1 -> 1, 0.00025 -> 5, 1000 -> 0); None when it is not a
    usable step (0, negative, not finite)."""
    if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        return None
    try:
        exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    except InvalidOperation:
        return None
    return min(MAX_DECIMALS, max(0, -int(exponent))) if isinstance(exponent, int) else None


def price_text(value: float, tick: float = 0.0) -> str:
    """`value` with the decimals of `tick` when one is given, else about eight significant digits with trailing
    zeros dropped: `84,500,000`, `65,000.1`, `0.0000089`."""
    if not math.isfinite(value):
        return f"{value}"
    places = step_decimals(tick)
    if places is not None:
        return f"{value:,.{places}f}"
    if value == 0:
        return "0"
    places = min(MAX_DECIMALS, max(0, SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def instrument_price_text(inst: Instrument | None, value: float) -> str:
    """`value` at the tick `inst` has at that price (the KRW venues' steps grow with it); significant digits when
    the instrument is not known."""
    return price_text(value, inst.tick_at(value) if inst is not None else 0.0)


def size_text(value: float, lot: float = 0.0) -> str:
    """A quantity with the decimals of its lot when known (0.001 BTC lots: 0.120), else as short as exact."""
    if not math.isfinite(value):
        return f"{value}"
    places = step_decimals(lot)
    if places is not None:
        return f"{value:,.{places}f}"
    return f"{value:,.{MAX_DECIMALS}f}".rstrip("0").rstrip(".")

"""Tick, lot and minimums per symbol from the exchange's instrument catalog (see data.catalogs)."""
from __future__ import annotations

import logging
import threading

from ..core.instrument import Instrument
from ..data.catalogs import CatalogBook
from .base import InstrumentRules, times
from .paper import default_rules

log = logging.getLogger(__name__)
FIRST_LOAD_WAIT_S = 15.0  # the first order waits this long for a catalog when none is cached


def rules_of(inst: Instrument) -> InstrumentRules:
    """An instrument's order rules in base units (an exchange counting contracts: steps x contract size)."""
    size = inst.contract_size
    return InstrumentRules(inst.native, inst.tick_size if inst.tick_size > 0 else inst.tick_table[-1][1],
                           times(inst.lot_size, size), times(inst.min_qty, size), inst.min_notional, inst.tick_table,
                           inst.currency)



class InstrumentBook:
    """`book(symbol)` -> InstrumentRules of a native id or unified symbol; a symbol missing from the catalog
    trades on a fine grid with no minimum, said once in the log."""

    def __init__(self, catalogs: CatalogBook) -> None:
        self.catalogs = catalogs
        self._lock = threading.Lock()
        self._warned: set[tuple[str, bool]] = set()

    def __call__(self, symbol: str) -> InstrumentRules:
        catalog = self.catalogs.ensure(FIRST_LOAD_WAIT_S)
        inst = catalog.get(symbol) or catalog.by_native(symbol)
        if inst is not None:
            return rules_of(inst)
        with self._lock:  # once per symbol and cause: a list that loads later and still lacks it is said again
            first = (symbol, catalog.verified) not in self._warned
            self._warned.add((symbol, catalog.verified))
        if first:
            log.warning("%s %s: %s; orders use a fine grid and no minimum", self.catalogs.exchange, symbol,
                        "not in the instrument list" if catalog.verified else "no instrument list from the exchange")
        rules = default_rules(symbol)
        return InstrumentRules(rules.symbol, rules.tick_size, rules.lot_size, rules.min_qty, rules.min_notional,
                               currency=self.catalogs.adapter.quote_currency)

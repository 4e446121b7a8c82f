"""Tick, lot and minimums per symbol from the exchange's market info (fetched once, by REST)."""
from __future__ import annotations

import logging
import threading

from ..net.rest import RestClient
from .base import InstrumentRules
from .paper import default_rules

log = logging.getLogger(__name__)


class InstrumentBook:
    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
        self._rules: dict[str, InstrumentRules] | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def load(self) -> int:
        with self._lock:
            if self._rules is None:
                try:
                    raw = self.rest.fetch_instruments()
                except Exception as exc:  # noqa: BLE001 - trading can go on with a fine grid; say so
                    log.error("%s: could not load market info (%s); using a fine price/size grid",
                              self.rest.adapter.name, exc)
                    raw = {}
                self._rules = {s: InstrumentRules(s, **r) for s, r in raw.items()}
            return len(self._rules)

    def __call__(self, symbol: str) -> InstrumentRules:
        self.load()
        r = self._rules.get(symbol)
        if r is not None:
            return r
        if symbol not in self._warned:
            self._warned.add(symbol)
            log.warning("%s %s: no market info from the exchange; orders use a fine grid and no minimum",
                        self.rest.adapter.name, symbol)
        return default_rules(symbol)
